/**
 * Fuzz target: configuration input. INI settings (`parseSettings`, `loadSettings`), YAML and
 * JSON component documents (`parseDocument`, `rawComponents`, `effectiveComponents`,
 * `configProblems`) and replay fixtures (`parseFixture`), from the embedded defaults, the
 * shipped config/qts.ini and the real fixtures under tests/fixtures, mutated as text and as
 * parsed trees. Property: only the documented errors are thrown (SettingsError, ConfigError,
 * a fixture's TypeError/SyntaxError naming its file), each with a message written by us, never
 * an engine error such as "Cannot read properties of undefined"; the valid bases still load.
 * @module
 */

import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import {
  DEFAULT_INI,
  loadSettings,
  parseSettings,
  SettingsError,
} from "../../src/shared/config/settings.ts";
import {
  effectiveComponents,
  EMBEDDED_DEFAULT_CONF,
  parseDefaultConf,
  parseDocument,
  rawComponents,
} from "../../src/shared/config/load_components.ts";
import { COMPONENT_NAMES, COMPONENT_SCHEMAS } from "../../src/shared/config/components.ts";
import { ConfigError, configProblems } from "../../src/shared/config/schema.ts";
import { parseFixture } from "../../src/sensor/replay/fixture.ts";
import { mutateText, mutateTree } from "./_mutate.ts";
import type { Rng } from "./_random.ts";
import { documentedError, type FuzzTarget, property, PropertyError } from "./_target.ts";

const KIND_NAMES = ["ini", "yaml", "json", "fixture"] as const;
const INI = 0;
const JSON_DOC = 2;
const FIXTURE = 3;

const INI_TOKENS = [
  "\n[tsng]\n",
  "\n[tsng:qpc]\n",
  "\n[tsng:telemetry]\n",
  "\n[__proto__]\n",
  "\n[constructor]\n",
  "[",
  "]",
  "=",
  " = ",
  ";",
  "#",
  "\\",
  '"',
  "'",
  "[]",
  "\nworkers = 99\n",
  "\ninput = tcp://[::1]:0\n",
  "\ninput = udp://x:1\n",
  "\nforce_domains = 1, x, 4294967296\n",
  "\napi_server_host = 0.0.0.0\n",
  "\n__proto__ = x\n",
  "\nmax_body[] = 1\n",
  "\nautodiscover\n",
  "\nlog_level = trace\n",
  "\nsyslog_input = udp://127.0.0.1:514\n",
  "\r\n",
  "\0",
];

const YAML_TOKENS = [
  ": ",
  "- ",
  "\n",
  "  ",
  "\t",
  "{",
  "}",
  "[",
  "]",
  ",",
  "&a ",
  "*a",
  "<<: *a\n",
  "!!binary ",
  "!!str ",
  "!!int ",
  "!!float ",
  "!!map ",
  "!!set ",
  "!!omap ",
  "!custom ",
  "? ",
  "|",
  ">-",
  "'",
  '"',
  "#",
  "\n---\n",
  "\n...\n",
  "%YAML 1.1\n---\n",
  "__proto__: {}\n",
  "~",
  "null",
  ".nan",
  "-.inf",
  "0x1F",
  "1e400",
  "2024-01-01",
  "\\u0000",
  "\uFEFF",
];

const JSON_TOKENS = [
  "{",
  "}",
  "[",
  "]",
  ",",
  ":",
  '"',
  "null",
  "1e999",
  "-0",
  '"__proto__":{}',
  "\\u0000",
];

/** YAML text of a tree; JSON (valid YAML) when the tree is too deep for the YAML writer. */
function yamlText(tree: unknown): string {
  try {
    return stringifyYaml(tree, { aliasDuplicateObjects: false });
  } catch {
    return JSON.stringify(tree) ?? "null";
  }
}

function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

function readFixtures(root: string): { file: string; text: string; doc: unknown }[] {
  const out: { file: string; text: string; doc: unknown }[] = [];
  const dir = `${root}/tests/fixtures`;
  for (const entry of [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory) continue;
    const file = `${dir}/${entry.name}/fixture.yaml`;
    let source: string;
    try {
      source = Deno.readTextFileSync(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    out.push({ file, text: source, doc: parseYaml(source) });
  }
  return out;
}

/** Options of {@linkcode configTarget}. */
export interface ConfigTargetOptions {
  /** Repository root (config/ and tests/fixtures/ are read from it). Default ".". */
  root?: string;
  /** Input kinds to generate. Default all: ini, yaml, json, fixture. */
  kinds?: readonly (typeof KIND_NAMES)[number][];
}

/** The configuration target. */
export function configTarget(options: ConfigTargetOptions = {}): FuzzTarget {
  const root = options.root ?? ".";
  const iniBases = [DEFAULT_INI];
  try {
    iniBases.push(Deno.readTextFileSync(`${root}/config/qts.ini`));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const defaultDoc = parseYaml(EMBEDDED_DEFAULT_CONF) as Record<string, unknown>;
  const base = parseDefaultConf(EMBEDDED_DEFAULT_CONF, "default.conf");
  const fixtures = readFixtures(root);
  // The bases themselves must load: otherwise every mutation only exercises the first error.
  for (const ini of iniBases) loadSettings(ini, "qts.ini");
  rawComponents(defaultDoc, "default.conf");
  for (const f of fixtures) parseFixture(f.text, f.file);
  const kinds: Record<string, number> = Object.fromEntries(KIND_NAMES.map((k) => [k, 0]));
  const enabled = (options.kinds ?? KIND_NAMES).map((k) => KIND_NAMES.indexOf(k));

  /** A domain-file-like document: a few components of default.conf, some fields each. */
  const domainDoc = (rng: Rng): Record<string, unknown> => {
    const doc: Record<string, unknown> = {};
    const n = 1 + rng.below(3);
    for (let i = 0; i < n; i++) {
      const name = rng.pick(COMPONENT_NAMES);
      const full = defaultDoc[name];
      if (typeof full !== "object" || full === null) continue;
      const fields = Object.entries(full).filter(() => rng.chance(0.5));
      doc[name] = structuredClone(Object.fromEntries(fields));
    }
    return doc;
  };

  const generators: ((rng: Rng) => string)[] = [
    (rng) => mutateText(rng.pick(iniBases), rng, INI_TOKENS, 4),
    (rng) => {
      if (rng.chance(0.3)) return mutateText(EMBEDDED_DEFAULT_CONF, rng, YAML_TOKENS, 3);
      const doc = rng.chance(0.3) ? defaultDoc : domainDoc(rng);
      const mutated = mutateTree(doc, rng, true);
      const source = yamlText(mutated);
      return rng.chance(0.2) ? mutateText(source, rng, YAML_TOKENS, 2) : source;
    },
    (rng) => {
      const mutated = mutateTree(domainDoc(rng), rng, false);
      const source = JSON.stringify(mutated) ?? "null";
      return rng.chance(0.3) ? mutateText(source, rng, JSON_TOKENS, 2) : source;
    },
    (rng) => {
      const f = rng.pick(fixtures);
      if (rng.chance(0.4)) return mutateText(f.text, rng, YAML_TOKENS, 3);
      return yamlText(mutateTree(f.doc, rng, true));
    },
  ];

  return {
    name: "config",
    kinds,
    generate(rng) {
      // JSON and INI are cheap; YAML parsing dominates, so all four get equal shares of inputs.
      const kind = enabled[rng.below(enabled.length)]!;
      const source = new TextEncoder().encode(generators[kind]!(rng));
      const input = new Uint8Array(1 + source.length);
      input[0] = kind;
      input.set(source, 1);
      return input;
    },
    check(input) {
      const kind = input[0]! % 4;
      kinds[KIND_NAMES[kind]!]!++;
      const source = text(input.subarray(1));
      const expect = (
        what: string,
        allowed: Parameters<typeof documentedError>[1],
        run: () => void,
      ) => {
        try {
          run();
        } catch (error) {
          if (error instanceof PropertyError) throw error;
          if (!documentedError(error, allowed)) {
            throw new PropertyError(`${what} threw an undocumented error: ${String(error)}`, {
              cause: error,
            });
          }
        }
      };
      if (kind === INI) {
        expect("parseSettings()", [SettingsError], () => {
          const { settings, problems } = parseSettings(source, "fuzz.ini");
          property(Array.isArray(problems), "parseSettings() problems is not an array");
          property(typeof settings.input.port === "number", "settings.input has no port");
        });
        expect("loadSettings()", [SettingsError], () => void loadSettings(source, "fuzz.ini"));
        return;
      }
      if (kind === FIXTURE) {
        const file = "/tmp/qts-fuzz/fixture.yaml";
        try {
          parseFixture(source, file);
        } catch (error) {
          if (!documentedError(error, [TypeError, SyntaxError])) {
            throw new PropertyError(`parseFixture() threw an undocumented error: ${error}`, {
              cause: error,
            });
          }
          property(
            (error as Error).message.startsWith(`${file}: `),
            () => `parseFixture() error does not name the file: ${(error as Error).message}`,
          );
        }
        return;
      }
      const file = kind === JSON_DOC ? "fuzz.json" : "fuzz.yaml";
      let doc: unknown;
      try {
        doc = parseDocument(source, file);
      } catch (error) {
        if (!documentedError(error, [ConfigError])) {
          throw new PropertyError(`parseDocument() threw an undocumented error: ${error}`, {
            cause: error,
          });
        }
        return;
      }
      expect("rawComponents()/effectiveComponents()", [ConfigError], () => {
        const raw = rawComponents(doc, file);
        const config = effectiveComponents(raw, base, file);
        for (const name of COMPONENT_NAMES) {
          property(config[name] !== undefined, `effective config lacks ${name}`);
        }
      });
      if (typeof doc === "object" && doc !== null && !Array.isArray(doc)) {
        for (const [name, value] of Object.entries(doc)) {
          if (!Object.hasOwn(COMPONENT_SCHEMAS, name)) continue;
          const schema = COMPONENT_SCHEMAS[name as keyof typeof COMPONENT_SCHEMAS];
          expect("configProblems()", [], () => {
            const problems = configProblems(schema, value, name);
            for (const p of problems) {
              property(p instanceof ConfigError, `configProblems() returned ${String(p)}`);
            }
          });
        }
      }
    },
  };
}
