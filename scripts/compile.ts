/**
 * The permission set of the single binary, shared by `deno task compile` (deno.json spells the
 * same flags, and a test keeps the two equal) and the compile smoke test. Network access is a
 * list, never blanket; an installation that must reach other hosts (memcached servers, a remote
 * proxy PUB) compiles with those hosts added to --allow-net. Assets (default.conf, Lua scripts,
 * the classifier model) reach the binary through imports, so no --include is needed.
 */
export const COMPILE_FLAGS: readonly string[] = [
  "--allow-net=127.0.0.1,localhost,[::1],0.0.0.0,[::]",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys=hostname,osRelease,loadavg",
  "--allow-run=nft,ip,tcpdump",
];

/** The `deno compile` arguments for an output path. */
export function compileArgs(output: string): string[] {
  return [
    "compile",
    ...COMPILE_FLAGS,
    "--output",
    output,
    new URL("../main.ts", import.meta.url).pathname,
  ];
}
