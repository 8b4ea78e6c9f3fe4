/**
 * What a compiled qts was built from and with: `scripts/compile.ts` writes a one-build entry
 * module that calls {@linkcode setBuildInfo} before `main()`, so the binary carries its git
 * commit, build date and permission flags; under `deno run` every build field reads "dev".
 * `qts version` prints it; {@linkcode netRefusalHint} turns it into the rebuild advice a
 * refused connection needs.
 * @module
 */
import { VERSION } from "./version.ts";

/** The facts of one build. */
export interface BuildInfo {
  /** The qts release (src/shared/version.ts). */
  version: string;
  /** `git rev-parse HEAD`, with `-dirty` for uncommitted changes; "dev" under `deno run`. */
  commit: string;
  /** ISO 8601 UTC time of the build; "dev" under `deno run`. */
  date: string;
  /** The Deno that compiled it (the runtime's own version is `Deno.version.deno`). */
  deno: string;
  /** The permission flags the binary runs with, as passed to `deno compile`; [] under `deno run`. */
  permissions: string[];
  /** The settings file --allow-net was derived from (`deno task compile --config`), if any. */
  config?: string;
  /** Whether this process is a compiled binary carrying these facts. */
  compiled: boolean;
}

let current: BuildInfo = {
  version: VERSION,
  commit: "dev",
  date: "dev",
  deno: Deno.version.deno,
  permissions: [],
  compiled: false,
};

/** This process's build facts: a compiled binary's, else the "dev" values. */
export function buildInfo(): Readonly<BuildInfo> {
  return current;
}

/** Records the build facts; called once by the entry module `scripts/compile.ts` generates. */
export function setBuildInfo(info: Omit<BuildInfo, "version" | "compiled">): void {
  current = { ...info, version: VERSION, compiled: true };
}

/** The --allow-net hosts of a build (`127.0.0.1`, `10.0.0.5:11211`). */
export function allowedNet(info: Readonly<BuildInfo> = current): string[] {
  const flag = info.permissions.find((p) => p.startsWith("--allow-net="));
  return flag === undefined ? [] : flag.slice("--allow-net=".length).split(",");
}

/**
 * How to get network access to `hosts` granted: under `deno run`, the --allow-net flag to add;
 * in a compiled binary, whose permissions are fixed, the rebuild with the host in the settings
 * file (or `--net`) and the list it was built with.
 * @example
 * ```ts
 * netRefusalHint(["10.0.0.5:11211"]);
 * // deno run: 'add it to --allow-net (--allow-net=…,10.0.0.5:11211)'
 * ```
 */
export function netRefusalHint(hosts: string[], info: Readonly<BuildInfo> = current): string {
  const them = hosts.length > 1 ? "them" : "it";
  if (!info.compiled) return `add ${them} to --allow-net (--allow-net=…,${hosts.join(",")})`;
  const config = info.config ?? "/etc/qts/qts.ini";
  const net = hosts.map((h) => `--net ${h}`).join(" ");
  return `this binary's network permissions are fixed at build time ` +
    `(--allow-net=${allowedNet(info).join(",")}${
      info.config === undefined ? "" : `, derived from ${info.config}`
    }): rebuild it with "deno task compile --config ${config}" where that file names ${them}, ` +
    `or with "deno task compile --config ${config} ${net}", then replace the binary`;
}
