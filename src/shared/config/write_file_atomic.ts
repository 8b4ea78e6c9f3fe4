import { basename, dirname, join } from "node:path";

/** An open file as {@linkcode writeFileAtomic} and the lm journal use it; `Deno.FsFile` is one. */
export interface WritableFile {
  write(bytes: Uint8Array): Promise<number>;
  sync(): Promise<void>;
  truncate(length?: number): Promise<void>;
  close(): void;
}

/**
 * The file operations a durable writer needs; the `Deno` namespace is one. Tests inject a
 * failing one to play a full disk (ENOSPC) without mounting anything.
 */
export interface WriteFs {
  mkdir(path: string, options: { recursive: boolean; mode?: number }): Promise<void>;
  open(path: string, options: Deno.OpenOptions): Promise<WritableFile>;
  rename(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
}

/** Options of {@linkcode writeFileAtomic}. */
export interface WriteFileAtomicOptions {
  /** Default: `Deno`. */
  fs?: WriteFs | undefined;
  /** Mode of the file (before the umask). Default 0o644; state files pass 0o600. */
  mode?: number | undefined;
  /** Mode of the directory when this call creates it. Default 0o777 (less the umask). */
  dirMode?: number | undefined;
}

/**
 * Writes a file so readers see the old or the new content, never a mix, even after a crash: a
 * temporary file in the same directory (created if missing), fsync, rename over the target, then
 * fsync of the directory (best effort). On any failure (a full disk) the temporary file is
 * removed before the error is rethrown, so failed writes never pile up and keep the disk full.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const fs: WriteFs = options.fs ?? Deno;
  const dir = dirname(path);
  await fs.mkdir(dir, {
    recursive: true,
    ...(options.dirMode === undefined ? {} : { mode: options.dirMode }),
  });
  const temp = join(dir, `.${basename(path)}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const file = await fs.open(temp, { write: true, createNew: true, mode: options.mode ?? 0o644 });
  try {
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    await fs.rename(temp, path);
  } catch (error) {
    await fs.remove(temp).catch(() => {});
    throw error;
  }
  try {
    const handle = await fs.open(dir, { read: true });
    try {
      await handle.sync();
    } finally {
      handle.close();
    }
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself is already atomic.
  }
}
