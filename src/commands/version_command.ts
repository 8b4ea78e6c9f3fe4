import { buildInfo } from "../shared/build_info.ts";
import { parseCommandLine } from "./parse_command_line.ts";

const HELP = `Usage: qts version [--json]

Prints what this binary is: the qts version, the git commit and date it was built from, the
Deno it was compiled with and runs on, and the permissions it was built with (a compiled binary
cannot be given others: rebuild with "deno task compile --config <qts.ini>"). Under "deno run"
the build fields read "dev".

  --json       one JSON object instead of the table
  -h, --help   this text
`;

/** `qts version`: the build facts of this binary (see src/shared/build_info.ts). */
export function versionCommand(args: string[]): Promise<number> {
  const parsed = parseCommandLine("version", HELP, args, { json: { type: "boolean" } });
  if (typeof parsed === "number") return Promise.resolve(parsed);
  const info = buildInfo();
  const runtime = Deno.version.deno;
  if (parsed.values.json) {
    console.log(JSON.stringify({ ...info, runtime }));
    return Promise.resolve(0);
  }
  const permissions = info.compiled
    ? info.permissions
    : ["dev (deno run: the flags on its command line)"];
  const rows: [string, string][] = [
    ["version", info.version],
    ["commit", info.commit],
    ["built", info.date],
    ["deno", info.deno === runtime ? runtime : `${runtime} (compiled with ${info.deno})`],
    ...(info.config === undefined ? [] : [["net from", info.config] as [string, string]]),
    ...permissions.map((p, i): [string, string] => [i === 0 ? "permissions" : "", p]),
  ];
  for (const [key, value] of rows) console.log(`${key.padEnd(12)} ${value}`);
  return Promise.resolve(0);
}
