import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

/** What {@linkcode parseCommandLine} returns: the parsed line, or the exit code to return. */
export type Parsed<O extends ParseArgsOptionsConfig> =
  | ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true }>>
  | number;

/**
 * The command-line handling every subcommand shares: parse `args` against `options` (plus
 * `-h/--help`), print the usage and give exit code 0 for --help, and for an unknown or
 * malformed option (or a positional argument where none is taken) print the problem with the
 * usage on stderr and give exit code 2.
 */
export function parseCommandLine<const O extends ParseArgsOptionsConfig>(
  command: string,
  help: string,
  args: string[],
  options: O,
  settings: { positionals?: boolean } = {},
): Parsed<O & { help: { type: "boolean"; short: "h" } }> {
  const all = { ...options, help: { type: "boolean", short: "h" } } as const;
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: all,
      allowPositionals: settings.positionals ?? false,
      strict: true,
    });
  } catch (error) {
    console.error(`qts ${command}: ${(error as Error).message}\n\n${help}`);
    return 2;
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(help);
    return 0;
  }
  return parsed as Parsed<O & { help: { type: "boolean"; short: "h" } }>;
}
