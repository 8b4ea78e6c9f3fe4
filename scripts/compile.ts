/**
 * `deno task compile [--config <qts.ini>] [--net <host[:port]>]… [--output <file>] [--no-check]
 * [--print]`: builds the single `qts` binary (default `dist/qts`).
 *
 * - **Embedded files**: {@linkcode COMPILE_INCLUDES} is the one list of what the program loads at
 *   run time besides its static imports: every Web Worker module (Deno embeds a worker only when
 *   it is passed with `--include`) and every asset (Lua, default.conf, detection lists, labels,
 *   the classifier model, the wasm of wasmoon and re2-wasm). After the build the embedded-files
 *   listing `deno compile` prints is checked against it, and the build fails naming what is
 *   missing. Files it never loads stay out ({@linkcode compileExcludes}: type declarations,
 *   source maps, documentation, CommonJS and browser copies of npm packages).
 * - **Permissions** ({@linkcode compilePermissions}): loopback and wildcard binds on any port,
 *   plus every listener and peer the settings file of `--config` names (memcached servers, a
 *   remote proxy PUB), each `host:port`, via `serveEndpoints()` as `qts serve` computes them;
 *   `--net` adds others. They are printed, and fixed in the binary: an installation that needs
 *   another host rebuilds. `nft`, `ip` and `tcpdump` are the only programs it may run.
 * - **Build facts**: a one-build entry module (`dist/.build-…/qts.ts`, removed afterwards) sets
 *   the version, git commit, date and permission flags that `qts version` prints, then runs
 *   `main()`.
 * - **Sizes**: the binary's and the embedded files' are printed.
 *
 * `deno compile` downloads its runtime (denort) on first use; `DENORT_BIN=<executable>` makes it
 * use that file instead and build offline. The build, the module graph, the listing and the
 * embedded size are then real, but with the full `deno` as base the output runs as deno.
 *
 * Itself it needs `--allow-read`, `--allow-write=dist`, `--allow-run` (deno and git; not
 * `--allow-run=deno`, see scripts/start.ts) and the environment variables in deno.json's task.
 * @module
 */
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type NetEndpoint, readSettings, serveEndpoints } from "../src/commands/serve_command.ts";
import { createLogger } from "../src/shared/log/logger.ts";

/** The project directory (where deno.json and main.ts are). */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

/**
 * One thing the binary loads at run time: a path relative to {@linkcode ROOT} (a file, a
 * directory, or `dir/*.ext`), or `npm:<package>/<path inside the package>`.
 */
export interface CompileInclude {
  path: string;
  /** A Worker module (must be passed with --include) or an asset. */
  kind: "worker" | "asset";
  /** Who loads it. */
  why: string;
}

/** Everything the program loads at run time that `deno compile` must embed. */
export const COMPILE_INCLUDES: readonly CompileInclude[] = [
  {
    path: "src/sensor/ingest/chain_worker.ts",
    kind: "worker",
    why: "qts serve/replay with workers ≥ 1 (sensor/ingest/worker_runner.ts)",
  },
  {
    path: "src/sensor/replay/_log_reader_worker.ts",
    kind: "worker",
    why: "qts replay --log (sensor/replay/read_log_batches.ts)",
  },
  {
    path: "src/analyzer/tractor/_job_worker.ts",
    kind: "worker",
    why: "every qts tractor job (analyzer/tractor/job_runner.ts)",
  },
  { path: "config/default.conf", kind: "asset", why: "component defaults (load_components.ts)" },
  { path: "config/lua/*.lua", kind: "asset", why: "embedded Lua scripts (filters/lua.ts)" },
  {
    path: "config/detection/*.txt",
    kind: "asset",
    why: "detection lists (filters/_detection_lists.ts)",
  },
  { path: "config/labels.yaml", kind: "asset", why: "label groups (classify/signatures)" },
  {
    path: "src/analyzer/classify/model/iscx_model.json",
    kind: "asset",
    why: "the traffic classifier (classify/model/classify_flow.ts)",
  },
  {
    path: "src/analyzer/classify/model/iscx_calibration.json",
    kind: "asset",
    why: "the classifier's calibration and unknown guard (classify/model/recognize_flow.ts)",
  },
  {
    path: "npm:wasmoon/dist/glue.wasm",
    kind: "asset",
    why: "the Lua VM, read by path (filters/_lua_engine.ts)",
  },
  {
    path: "npm:re2-wasm/build/wasm/re2.wasm",
    kind: "asset",
    why: "RE2 regular expressions, read by re2-wasm next to its glue code",
  },
];

/** Loopback and wildcard binds, any port: the embedded defaults and every local command. */
export const DEFAULT_NET: readonly string[] = [
  "127.0.0.1",
  "localhost",
  "[::1]",
  "0.0.0.0",
  "[::]",
];

/** The permission flags besides --allow-net. */
const OTHER_PERMISSIONS: readonly string[] = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys=hostname,osRelease,loadavg",
  "--allow-run=nft,ip,tcpdump",
];

/** The binary's permission flags for an --allow-net list. */
export function compilePermissions(net: readonly string[] = DEFAULT_NET): string[] {
  return [`--allow-net=${net.join(",")}`, ...OTHER_PERMISSIONS];
}

/** The host of `host:port` / `[v6]:port` / `host`, as --allow-net spells it. */
function hostOf(entry: string): string {
  const v6 = /^(\[[^\]]+\])(?::\d+)?$/.exec(entry);
  if (v6) return v6[1]!;
  return entry.replace(/:\d+$/, "");
}

/**
 * The --allow-net list: {@linkcode DEFAULT_NET}, then each endpoint (and `extra` entry) whose
 * host it does not already cover, once, in order.
 */
export function netAllowList(endpoints: readonly NetEndpoint[], extra: readonly string[] = []) {
  const out = [...DEFAULT_NET];
  for (const host of [...endpoints.map((e) => e.host), ...extra]) {
    if (out.includes(host) || out.includes(hostOf(host))) continue;
    out.push(host);
  }
  return out;
}

/** The package directory of an npm import (`wasmoon` → …/node_modules/wasmoon). */
function packageDir(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.resolve(name)));
  while (dir !== "/") {
    try {
      Deno.statSync(join(dir, "package.json"));
      if (dir.endsWith(`node_modules/${name}`)) return dir;
    } catch { /* not here */ }
    dir = dirname(dir);
  }
  throw new Error(`Cannot find the package directory of "${name}" (is node_modules installed?)`);
}

/** An include's path: `npm:` resolved to the installed package, else under ROOT. */
function resolveInclude(include: CompileInclude): string {
  const npm = /^npm:((?:@[^/]+\/)?[^/]+)\/(.+)$/.exec(include.path);
  return npm ? join(packageDir(npm[1]!), npm[2]!) : join(ROOT, include.path);
}

/** An include's files, as absolute paths: directories and `dir/*.ext` expanded. */
export function includeFiles(include: CompileInclude): string[] {
  const path = resolveInclude(include);
  const glob = /^(.*)\/\*(\.[^/]+)$/.exec(path);
  const dir = glob ? glob[1]! : path;
  if (Deno.statSync(dir).isFile) return [path];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of [...Deno.readDirSync(d)].sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, entry.name);
      if (entry.isDirectory) walk(p);
      else if (entry.isFile && (!glob || entry.name.endsWith(glob[2]!))) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** The --include arguments: one per include (per file, for a `dir/*.ext` pattern). */
function includeArgs(): string[] {
  return COMPILE_INCLUDES.flatMap((include) => {
    const files = /\/\*\.[^/]+$/.test(include.path)
      ? includeFiles(include)
      : [resolveInclude(include)];
    return files.flatMap((file) => ["--include", file]);
  });
}

/** Folders inside npm packages that are never loaded (other module formats, CLIs, sources). */
const UNUSED_DIRS: Readonly<Record<string, readonly string[]>> = {
  hono: ["dist/cjs", "dist/types"], // the ESM build (exports "import") is the one loaded
  yaml: ["browser"], // Deno resolves the "node" condition: dist/
  "ua-parser-js": ["dist", "script"], // main is src/ua-parser.js
  "re2-wasm": ["src"], // TypeScript sources of build/
  wabt: ["bin", "index.js"], // assembles the classifier's kernel at build time, never at run time
};

/** Files no runtime loads: declarations, source maps, documentation. */
const UNUSED_FILE = /\.d\.[cm]?ts$|\.map$|\.md$|\.markdown$/i;

/**
 * The --exclude paths: what the node_modules directory holds that the binary never loads
 * ({@linkcode UNUSED_DIRS}, {@linkcode UNUSED_FILE}); every package.json stays, since Deno's
 * resolver reads them (even a type-only dependency's). `deno compile` embeds installed
 * packages whole; its --exclude takes paths, not globs.
 */
export function compileExcludes(root: string = ROOT): string[] {
  const store = join(root, "node_modules/.deno");
  const out: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(store)];
  } catch {
    return out;
  }
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory || entry.name === "node_modules") continue;
    // <name>@<version>, scoped as @scope+name@version
    const name = entry.name.replace(/@[^@]+$/, "").replace("+", "/");
    const dir = join(store, entry.name, "node_modules", name);
    const skipDirs = (UNUSED_DIRS[name] ?? []).map((d) => join(dir, d));
    out.push(...skipDirs.filter((d) => exists(d)));
    const walk = (d: string) => {
      let list: Deno.DirEntry[];
      try {
        list = [...Deno.readDirSync(d)];
      } catch {
        return;
      }
      for (const e of list.sort((a, b) => a.name.localeCompare(b.name))) {
        const p = join(d, e.name);
        if (e.isDirectory && !skipDirs.includes(p) && e.name !== "node_modules") walk(p);
        else if (e.isFile && UNUSED_FILE.test(e.name)) out.push(p);
      }
    };
    walk(dir);
  }
  return out;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** What {@linkcode compileArgs} builds. */
export interface CompileOptions {
  /** The binary to write. */
  output: string;
  /** The entry module (the generated one; main.ts for a build without build facts). */
  entry?: string;
  /** The --allow-net list; {@linkcode DEFAULT_NET} when absent. */
  net?: readonly string[];
  /** Pass --no-check (type-checking is `deno task ok`'s job; the tests skip it). */
  noCheck?: boolean;
}

/** The `deno compile` arguments. */
export function compileArgs(options: CompileOptions): string[] {
  return [
    "compile",
    ...(options.noCheck ? ["--no-check"] : []),
    ...compilePermissions(options.net),
    ...includeArgs(),
    ...compileExcludes().flatMap((p) => ["--exclude", p]),
    "--output",
    options.output,
    options.entry ?? join(ROOT, "main.ts"),
  ];
}

/** One entry of the embedded-files listing: a file, a directory embedded whole (`dir/*`), … */
export type ListingEntry = "file" | "all" | "dir" | "symlink";

/** The embedded-files listing of `deno compile`, parsed. */
export interface EmbeddedListing {
  /** Paths relative to the embedded root (the common ancestor: the project directory). */
  entries: Map<string, ListingEntry>;
  /** "Files: 7.5MB" as printed, or "" when absent. */
  filesSize: string;
}

// deno-lint-ignore no-control-regex -- deno's terminal colours
const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * Parses the tree `deno compile` prints under "Embedded Files": `├─┬ dir (size)` for a directory
 * listed in part, `├── dir/* (size)` for one embedded whole, `├── a/b.ts (size)` for a file (a
 * single-child chain is printed as one path), `├── x --> target` for a symlink.
 */
export function parseEmbeddedListing(output: string): EmbeddedListing {
  const lines = output.replace(ANSI, "").split("\n");
  const entries = new Map<string, ListingEntry>();
  const stack: string[] = [];
  let inTree = false;
  let filesSize = "";
  for (const line of lines) {
    if (/^Embedded Files/.test(line.trim())) inTree = true;
    const size = /^Files:\s*(.+)$/.exec(line.trim());
    if (size) filesSize = size[1]!;
    if (!inTree) continue;
    const m = /^((?:[│ ] )*)[├└]─([┬─]) (.+)$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 2;
    const branch = m[2] === "┬";
    let text = m[3]!;
    let kind: ListingEntry = branch ? "dir" : "file";
    const link = text.indexOf(" --> ");
    if (link >= 0) {
      text = text.slice(0, link);
      kind = "symlink";
    } else text = text.replace(/ \([^()]*\)$/, "");
    if (text.endsWith("/*")) {
      text = text.slice(0, -2);
      kind = "all";
    }
    stack.length = depth;
    const path = [...stack, text].join("/");
    stack.push(text);
    entries.set(path, kind);
  }
  return { entries, filesSize };
}

/** Whether `path` (relative to the embedded root) is in the listing. */
export function isEmbedded(listing: EmbeddedListing, path: string): boolean {
  const kind = listing.entries.get(path);
  if (kind === "file" || kind === "all" || kind === "symlink") return true;
  const parts = path.split("/");
  for (let i = parts.length - 1; i > 0; i--) {
    if (listing.entries.get(parts.slice(0, i).join("/")) === "all") return true;
  }
  return false;
}

/**
 * The included files the listing lacks, each as "path (kind: why)"; empty when all are there.
 * The listing's paths are relative to the project directory.
 */
export function missingIncludes(
  listing: EmbeddedListing,
  includes: readonly CompileInclude[] = COMPILE_INCLUDES,
): string[] {
  const missing: string[] = [];
  for (const include of includes) {
    for (const file of includeFiles(include)) {
      const rel = relative(ROOT, file);
      if (!isEmbedded(listing, rel)) missing.push(`${rel} (${include.kind}: ${include.why})`);
    }
  }
  return missing;
}

/** Megabytes with one decimal. */
function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

async function git(args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("git", { args, cwd: ROOT, stdout: "piped", stderr: "null" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

/** The build's commit: `git rev-parse HEAD` (+ `-dirty`), "unknown" outside a git checkout. */
async function gitCommit(): Promise<string> {
  const head = await git(["rev-parse", "HEAD"]);
  if (head === undefined) return "unknown";
  const status = await git(["status", "--porcelain", "--untracked-files=no"]);
  return status ? `${head}-dirty` : head;
}

/** The build time: SOURCE_DATE_EPOCH (reproducible builds) or now, ISO 8601 UTC. */
function buildDate(): string {
  const epoch = Deno.env.get("SOURCE_DATE_EPOCH");
  const ms = epoch !== undefined && /^\d+$/.test(epoch) ? Number(epoch) * 1000 : Date.now();
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The source of the one-build entry module in `dir` (a directory two levels under ROOT). */
function entrySource(info: Record<string, unknown>): string {
  return `// Generated by scripts/compile.ts for one build, then removed.
import { setBuildInfo } from "../../src/shared/build_info.ts";
import { main } from "../../main.ts";

setBuildInfo(${JSON.stringify(info, null, 2)});
Deno.exit(await main(Deno.args));
`;
}

const HELP = `Usage: deno task compile [--config <qts.ini>] [--net <host[:port]>]… [--output <file>]
                         [--no-check] [--print]

Builds the qts binary (default dist/qts) with every Worker module and asset embedded and its
permissions fixed: loopback and wildcard binds, plus every listener and peer that --config's
settings (and their component and domain files) name. Prints that list, the embedded files and
the sizes. DENORT_BIN=<executable> builds offline (the output then runs as that executable).

  -c, --config <file>  settings file the --allow-net list is derived from (/etc/qts/qts.ini)
  --net <host[:port]>  another host the binary may reach (repeatable)
  -o, --output <file>  the binary to write (default dist/qts)
  --no-check           skip type-checking
  --print              print the deno compile command as JSON instead of running it
`;

/** Runs the build with `args`; returns the exit code. */
export async function compile(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        config: { type: "string", short: "c" },
        net: { type: "string", multiple: true },
        output: { type: "string", short: "o" },
        "no-check": { type: "boolean" },
        print: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    console.error(`compile: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const log = createLogger();
  let endpoints: NetEndpoint[] = [];
  const config = values.config === undefined ? undefined : resolve(values.config);
  if (config !== undefined) {
    const settings = await readSettings(config, log);
    if (settings === undefined) return 2;
    try {
      endpoints = await serveEndpoints(settings);
    } catch (error) {
      log.log("error", `cannot read the configuration of ${config}`, {
        error: (error as Error).message,
      });
      return 2;
    }
  }
  const extra = values.net ?? [];
  const net = netAllowList(endpoints, extra);
  const output = resolve(values.output ?? join(ROOT, "dist/qts"));
  const permissions = compilePermissions(net);

  if (!values.print) {
    console.log(`--allow-net for ${config ?? "the embedded defaults"}:`);
    for (const host of net) {
      const from = DEFAULT_NET.includes(host)
        ? "loopback/wildcard, any port"
        : endpoints.find((e) => e.host === host)?.setting ?? "--net";
      console.log(`  ${host.padEnd(24)} ${from}`);
    }
    const covered = endpoints.filter((e) => DEFAULT_NET.includes(hostOf(e.host)));
    if (covered.length > 0) {
      console.log(`  (covered: ${covered.map((e) => `${e.host} ${e.setting}`).join(", ")})`);
    }
  }

  const info = {
    commit: await gitCommit(),
    date: buildDate(),
    deno: Deno.version.deno,
    permissions,
    ...(config === undefined ? {} : { config }),
  };
  await Deno.mkdir(join(ROOT, "dist"), { recursive: true });
  const dir = await Deno.makeTempDir({ dir: join(ROOT, "dist"), prefix: ".build-" });
  try {
    const entry = join(dir, "qts.ts");
    await Deno.writeTextFile(entry, entrySource(info));
    const compileArgsList = compileArgs({
      output,
      entry,
      net,
      ...(values["no-check"] ? { noCheck: true } : {}),
    });
    if (values.print) {
      console.log(JSON.stringify({ command: Deno.execPath(), args: compileArgsList, info }));
      return 0;
    }
    const result = await new Deno.Command(Deno.execPath(), {
      args: compileArgsList,
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(result.stdout) +
      new TextDecoder().decode(result.stderr);
    console.log(text.trimEnd());
    if (!result.success) {
      console.error(`compile: deno compile failed (exit ${result.code})`);
      return 1;
    }
    const listing = parseEmbeddedListing(text);
    const missing = missingIncludes(listing);
    if (missing.length > 0) {
      console.error(`compile: not embedded in ${output}:\n  ${missing.join("\n  ")}`);
      return 1;
    }
    const size = (await Deno.stat(output)).size;
    const base = Deno.env.get("DENORT_BIN");
    console.log(
      `\n${basename(output)}: ${mb(size)} (${size} bytes); embedded files ${listing.filesSize}` +
        `; runtime base ${base === undefined ? "denort" : `DENORT_BIN=${base}`}`,
    );
    console.log(`commit ${info.commit}, built ${info.date}, deno ${info.deno}`);
    return 0;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  Deno.exit(await compile(Deno.args));
}
