import { join } from "node:path";
import { ConfigStore } from "../shared/config/config_store.ts";
import {
  COMPONENT_NAMES,
  COMPONENT_SCHEMAS,
  type ComponentName,
  isComponentName,
} from "../shared/config/components.ts";
import { type ConfigError, configProblems } from "../shared/config/schema.ts";
import { parseDocument } from "../shared/config/load_components.ts";
import type { Settings } from "../shared/config/settings.ts";
import { openGeoIp } from "../shared/geo/geoip.ts";
import { silentLogger } from "../shared/log/logger.ts";
import { componentKey, DomainChain } from "../sensor/filters/domain_chain.ts";
import { HttpStats } from "../sensor/filters/statstore_http_stats.ts";
import { chainBuilders, type FilterEnv } from "../sensor/ingest/chain_builders.ts";
import { chainObservers } from "../sensor/ingest/chain_observers.ts";
import { ListManager } from "../sensor/lm/list_manager.ts";
import {
  DEFAULT_INI,
  formatProblem,
  parseSettings,
  type SettingsProblem,
} from "../shared/config/settings.ts";
import { parseCommandLine } from "./parse_command_line.ts";

import { EMBEDDED_DEFAULT_CONF } from "../shared/config/load_components.ts";
import { EMBEDDED_LISTS, listEntries } from "../sensor/filters/_detection_lists.ts";

import { parseProxySettings } from "../sensor/proxy/proxy_settings.ts";
import { validatePoolOptions } from "../sensor/proxy/upstream_pool.ts";

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
  const settings = result.settings;
  const proxy = parseProxySettings(settings, file);
  problems.push(...proxy.problems);
  if (proxy.settings) {
    // Pool keys are checked by the pool's own validation, which names the key.
    for (const [name, options] of proxy.settings.pools) {
      try {
        validatePoolOptions(options, `[proxy:pool:${name}]`);
      } catch (e) {
        problems.push({
          file,
          key: `[proxy:pool:${name}]`,
          message: (e as Error).message,
          severity: "error",
        });
      }
    }
  }
  const error = (file: string, key: string, message: string) =>
    problems.push({ file, key, message, severity: "error" });

  // Every mistake of every file, not only each file's first (the store stops at that).
  for (const doc of await componentFiles(settings)) {
    let parsed: unknown;
    try {
      parsed = parseDocument(doc.text, doc.file);
    } catch (e) {
      error(doc.file, "(file)", (e as ConfigError).reason ?? String(e));
      continue;
    }
    const components = doc.component === undefined ? (parsed ?? {}) : { [doc.component]: parsed };
    if (typeof components !== "object" || Array.isArray(components)) {
      error(doc.file, "(file)", "expected an object of components");
      continue;
    }
    for (const [name, value] of Object.entries(components as Record<string, unknown>)) {
      if (!isComponentName(name)) {
        error(doc.file, name, `unknown component (known: ${COMPONENT_NAMES.join(", ")})`);
        continue;
      }
      for (const p of configProblems(COMPONENT_SCHEMAS[name], value, name)) {
        error(doc.file, p.path, p.reason);
      }
    }
  }
  if (problems.some((p) => p.severity === "error")) return problems;

  // Then what serve does with them: lay the layers, build every domain's chain (Lua scripts,
  // list files), open the GeoIP database.
  const store = new ConfigStore(settings);
  for (const p of [...await store.reloadComponents(), ...await store.reloadFilters()]) {
    error(p.file, "(file)", p.message);
  }
  const env: FilterEnv = {
    settings,
    global: () => store.global,
    log: silentLogger,
    stats: new HttpStats(),
    offline: true,
  };
  const builders = chainBuilders(env);
  const observers = chainObservers(env);
  const domains = store.domains();
  for (const id of domains.length > 0 ? domains : [0]) {
    const chain = new DomainChain(id, builders, observers);
    const config = store.domainConfig(id);
    const where = id === 0 ? "global components" : `domain ${id}`;
    try {
      await chain.configure(config, componentKey(config, store.global));
      ListManager.check(id, config.lm, store.global.lm);
    } catch (e) {
      error(where, "(chain)", (e as Error).message);
    } finally {
      await chain.close();
    }
  }
  if (settings.geoip_db !== "") {
    try {
      (await openGeoIp(settings.geoip_db)).close();
    } catch (e) {
      problems.push({
        file,
        key: "[tsng] geoip_db",
        message: `${(e as Error).message} (commands would carry geo "")`,
        severity: "warning",
      });
    }
  }
  return problems;
}

/** The component files serve would read: components_config_dir's and every domain file. */
async function componentFiles(
  settings: Settings,
): Promise<{ file: string; text: string; component?: ComponentName }[]> {
  const out: { file: string; text: string; component?: ComponentName }[] = [];
  const read = async (file: string, component?: ComponentName) => {
    try {
      out.push({ file, text: await Deno.readTextFile(file), ...(component ? { component } : {}) });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  };
  const dir = settings.components_config_dir;
  if (dir !== "") {
    await read(join(dir, "default.conf"));
    for (const name of COMPONENT_NAMES) {
      for (const ext of ["yaml", "yml", "json"]) await read(join(dir, `${name}.${ext}`), name);
    }
  }
  for (const filters of settings.filters_config_dir) {
    let entries: Deno.DirEntry[] = [];
    try {
      entries = await Array.fromAsync(Deno.readDir(filters));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.isFile && /^\d{1,10}\.json$/.test(entry.name)) {
        await read(join(filters, entry.name));
      }
    }
  }
  return out;
}
