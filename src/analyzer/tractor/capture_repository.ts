/**
 * The capture repository: the regular files directly inside one directory whose names end in a
 * capture extension. A name from a request can only resolve to such a file: no separators, no
 * dot names, and after resolving symlinks the file must still lie inside the directory.
 */
import { basename, join } from "node:path";

/** A capture in the repository. */
export interface CaptureFile {
  /** File name with extension, as listed and as `file_name` in requests. */
  name: string;
  /** "pcap", "pcapng", "cap", or one of them with ".gz". */
  extension: string;
  /** Real path of the file (symlinks resolved). */
  path: string;
  sizeBytes: number;
  mtimeMs: number;
}

const EXTENSIONS = ["pcapng.gz", "pcap.gz", "cap.gz", "pcapng", "pcap", "cap"];
const MAX_NAME = 255;

/** The capture extension of `name`, or undefined when it is not a capture name. */
export function captureExtension(name: string): string | undefined {
  const lower = name.toLowerCase();
  return EXTENSIONS.find((ext) => lower.endsWith(`.${ext}`) && lower.length > ext.length + 1);
}

/** True when `name` could name a capture in the repository (checked before touching the disk). */
export function isCaptureName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME && !name.startsWith(".") &&
    !/[/\\\0]/.test(name) && basename(name) === name && captureExtension(name) !== undefined;
}

/** Lists and resolves captures in one directory. */
export class CaptureRepository {
  readonly dir: string;
  #realDir: string | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  async #root(): Promise<string> {
    this.#realDir ??= await Deno.realPath(this.dir);
    return this.#realDir;
  }

  /** Every capture, sorted by name. */
  async list(): Promise<CaptureFile[]> {
    const out: CaptureFile[] = [];
    for await (const entry of Deno.readDir(this.dir)) {
      if (entry.isDirectory || !isCaptureName(entry.name)) continue;
      const file = await this.resolve(entry.name);
      if (file) out.push(file);
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The capture called `name`, or undefined when there is none (or the name is not allowed). */
  async resolve(name: string): Promise<CaptureFile | undefined> {
    if (!isCaptureName(name)) return undefined;
    const root = await this.#root();
    let real: string;
    let info: Deno.FileInfo;
    try {
      real = await Deno.realPath(join(this.dir, name));
      info = await Deno.stat(real);
    } catch {
      return undefined;
    }
    // A symlink may point elsewhere inside the repository, never out of it.
    if (!real.startsWith(root.endsWith("/") ? root : `${root}/`) || !info.isFile) return undefined;
    return {
      name,
      extension: captureExtension(name)!,
      path: real,
      sizeBytes: info.size,
      mtimeMs: info.mtime?.getTime() ?? 0,
    };
  }
}
