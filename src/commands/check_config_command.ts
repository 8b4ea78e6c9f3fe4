import { ConfigStore } from "../shared/config/config_store.ts";
import {
  DEFAULT_INI,
  formatProblem,
  parseSettings,
  type SettingsProblem,
} from "../shared/config/settings.ts";
import { parseCommandLine } from "./parse_command_line.ts";

import { EMBEDDED_DEFAULT_CONF } from "../shared/config/load_components.ts";
import { EMBEDDED_LISTS, listEntries } from "../sensor/filters/_detection_lists.ts";

const HELP = `Usage: qts check-config [<settings.ini>] [--defaults]

Validates the main settings and every component and domain file they point to, and prints each
problem as "file: key: reason". Exit 0 when valid (warnings allowed), 2 on any error.

  --defaults   print the embedded default settings, component defaults and detection lists
  -h, --help   this text
`;

/** `qts check-config`: validates settings and every component/domain file. */
export async function checkConfigCommand(args: string[]): Promise<number> {
  const parsed = parseCommandLine("check-config", HELP, args, { defaults: { type: "boolean" } }, {
    positionals: true,
  });
  if (typeof parsed === "number") return parsed;
  if (parsed.values.defaults) {
    console.log(DEFAULT_INI.trim());
    // The component defaults and detection lists the binary carries, so an operator sees every
    // rule and list in force with no configuration written.
    console.log(
      `\n# ---- default.conf (embedded components) ----\n${EMBEDDED_DEFAULT_CONF.trim()}`,
    );
    console.log(
      "\n# ---- detection lists (embedded; a file of the same name in components_config_dir " +
        "replaces one) ----",
    );
    for (const [name, text] of Object.entries(EMBEDDED_LISTS)) {
      console.log(`# ${name}: ${listEntries(text).length} entries`);
    }
    return 0;
  }
  if (parsed.positionals.length > 1) {
    console.error(`qts check-config: one settings file at most\n\n${HELP}`);
    return 2;
  }
  const file = parsed.positionals[0];
  let text = "";
  if (file !== undefined) {
    try {
      text = await Deno.readTextFile(file);
    } catch (error) {
      console.error(`${file}: cannot read: ${(error as Error).message}`);
      return 2;
    }
  }
  const problems = await checkConfig(text, file ?? "(embedded defaults)");
  for (const p of problems) console.error(`${p.severity}: ${formatProblem(p)}`);
  const errors = problems.filter((p) => p.severity === "error").length;
  console.error(
    errors === 0
      ? `${file ?? "embedded defaults"}: configuration is valid`
      : `${errors} error(s) found`,
  );
  return errors === 0 ? 0 : 2;
}

/** Every problem in the settings text and in the files it points to. */
export async function checkConfig(text: string, file: string): Promise<SettingsProblem[]> {
  let result;
  try {
    result = parseSettings(text, file);
  } catch (error) {
    const problems = (error as { problems?: SettingsProblem[] }).problems;
    if (problems) return problems;
    throw error;
  }
  const problems = [...result.problems];
  if (problems.some((p) => p.severity === "error")) return problems;
  const store = new ConfigStore(result.settings);
  const fileProblems = [
    ...await store.reloadComponents(),
    ...await store.reloadFilters(),
  ];
  for (const p of fileProblems) {
    const [key, ...rest] = p.message.startsWith(p.file)
      ? p.message.slice(p.file.length + 2).split(": ")
      : ["(file)", p.message];
    problems.push({
      file: p.file,
      key: key ?? "(file)",
      message: rest.join(": "),
      severity: "error",
    });
  }
  return problems;
}
