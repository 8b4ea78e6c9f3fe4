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

import process from "node:process";
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
const YAML_DOC = 1;
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

/** YAML text of a tree by the yaml package's writer; JSON (valid YAML) when too deep for it. */
function yamlText(tree: unknown): string {
  try {
    return stringifyYaml(tree, { aliasDuplicateObjects: false });
  } catch {
    return JSON.stringify(tree) ?? "null";
  }
}

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** A string YAML reads back as the same string unquoted (no number, boolean or null look). */
const PLAIN = /^[A-Za-z_][A-Za-z0-9_./-]*$/;
const RESERVED = /^(?:true|false|null|yes|no|on|off|y|n)$/i;

function yamlScalar(v: unknown): string {
  if (typeof v === "number") {
    if (Number.isNaN(v)) return ".nan";
    if (v === Infinity) return ".inf";
    if (v === -Infinity) return "-.inf";
    return Object.is(v, -0) ? "-0" : String(v);
  }
  if (typeof v === "string") return PLAIN.test(v) && !RESERVED.test(v) ? v : JSON.stringify(v);
  if (typeof v === "boolean") return String(v);
  return v === null || v === undefined ? "null" : JSON.stringify(String(v));
}

/** Flow-style YAML (JSON-like, with YAML's plain scalars and .nan/.inf). */
function yamlFlow(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(yamlFlow).join(", ")}]`;
  if (isMap(v)) {
    return `{${Object.entries(v).map(([k, x]) => `${yamlScalar(k)}: ${yamlFlow(x)}`).join(", ")}}`;
  }
  return yamlScalar(v);
}

/**
 * YAML text of a tree in block style with some flow collections, written here: the yaml
 * package's writer costs ~1 ms on default.conf's tree, this ~20 µs. Deep subtrees are flow.
 */
function yamlBlock(tree: unknown, rng: Rng): string {
  const out: string[] = [];
  const block = (x: unknown, depth: number): boolean =>
    depth < 16 && typeof x === "object" && x !== null && Object.keys(x).length > 0 &&
    !rng.chance(0.1);
  const write = (v: object, pad: string, depth: number): void => {
    const entries: [string, unknown][] = Array.isArray(v)
      ? v.map((x) => ["-", x])
      : Object.entries(v).map(([k, x]) => [`${yamlScalar(k)}:`, x]);
    for (const [head, x] of entries) {
      if (block(x, depth)) {
        out.push(pad + head);
        write(x as object, pad + "  ", depth + 1);
      } else out.push(`${pad}${head} ${yamlFlow(x)}`);
    }
  };
  if (!block(tree, 0)) return yamlFlow(tree) + "\n";
  write(tree as object, "", 1);
  return out.join("\n") + "\n";
}

/** Some of `items` (at least one when there are any), in order. */
function some<T>(items: readonly T[], rng: Rng, max: number): T[] {
  if (items.length <= 1) return [...items];
  const start = rng.below(items.length);
  return items.slice(start, start + 1 + rng.below(max));
}

/**
 * yaml 2.x reads `process.env.LOG_TOKENS` once a lexical token and `LOG_STREAM` once a CST
 * token; on Deno each read is a call into the runtime (~0.5 µs), about half of its parse time.
 * While a config target lives, `process.env` is an object that answers those two from a
 * snapshot (other names fall through to the real environment) and yaml's warnings (unresolved
 * tags the mutations insert) are counted instead of printed. Returns the undo.
 */
function quietYaml(warnings: { count: number }): () => void {
  const env = process.env;
  const emitWarning = process.emitWarning;
  const read = (name: string): string | undefined => {
    try {
      return env[name];
    } catch {
      return undefined; // no --allow-env for it: yaml would have thrown; treat as unset
    }
  };
  process.env = Object.create(env, {
    LOG_TOKENS: { value: read("LOG_TOKENS"), writable: true, configurable: true },
    LOG_STREAM: { value: read("LOG_STREAM"), writable: true, configurable: true },
  });
  process.emitWarning = () => void warnings.count++;
  return () => {
    process.env = env;
    process.emitWarning = emitWarning;
  };
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

/** How an input was made: a small document mutated, or a whole base document (rarer). */
const VARIANT_NAMES = ["small", "tree", "text", "novel"] as const;
const SMALL = 0;
const TREE = 1;
const TEXT = 2;
const NOVEL = 3;

/**
 * Shares of inputs per mille by kind and variant. Whole-document YAML inputs parse 3–9 KB (1–10
 * ms each with the yaml package), so they are 2 % of the inputs; the rest mutate small documents
 * and run 10–50× faster. JSON documents (JSON.parse, then the same validators) are the cheapest
 * way to the component checks, so they have the largest share. "novel" inputs invent new
 * strings and regex patterns (RE2 compiles each, ~300 µs); the others draw them from pools.
 */
const PLAN: readonly { kind: number; variant: number; weight: number }[] = [
  { kind: INI, variant: SMALL, weight: 150 },
  { kind: INI, variant: TEXT, weight: 30 },
  { kind: YAML_DOC, variant: SMALL, weight: 90 },
  { kind: YAML_DOC, variant: NOVEL, weight: 4 },
  { kind: YAML_DOC, variant: TREE, weight: 2 },
  { kind: YAML_DOC, variant: TEXT, weight: 4 },
  { kind: JSON_DOC, variant: SMALL, weight: 560 },
  { kind: JSON_DOC, variant: NOVEL, weight: 15 },
  { kind: JSON_DOC, variant: TREE, weight: 25 },
  { kind: FIXTURE, variant: SMALL, weight: 110 },
  { kind: FIXTURE, variant: NOVEL, weight: 3 },
  { kind: FIXTURE, variant: TREE, weight: 3 },
  { kind: FIXTURE, variant: TEXT, weight: 4 },
];

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
  const kinds: Record<string, number> = {};
  const enabled = new Set((options.kinds ?? KIND_NAMES).map((k) => KIND_NAMES.indexOf(k)));
  const plan = PLAN.filter((p) => enabled.has(p.kind));
  const total = plan.reduce((sum, p) => sum + p.weight, 0);
  const warnings = { count: 0 };
  const restore = quietYaml(warnings);

  /** A domain-file-like document: a few components of default.conf, some fields each. */
  const domainDoc = (rng: Rng): Record<string, unknown> => {
    const doc: Record<string, unknown> = {};
    const n = 1 + rng.below(2);
    for (let i = 0; i < n; i++) {
      const name = rng.pick(COMPONENT_NAMES);
      const full = defaultDoc[name];
      if (!isMap(full)) continue;
      doc[name] = Object.fromEntries(Object.entries(full).filter(() => rng.chance(0.4)));
    }
    return doc; // shares subtrees with defaultDoc: mutateTree copies before it mutates
  };

  /** A fixture cut down to a few requests, commands and config entries (~0.3–1 KB of YAML). */
  const smallFixture = (rng: Rng): Record<string, unknown> => {
    const full = rng.pick(fixtures).doc as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(full)) {
      if (key === "requests" && Array.isArray(value)) out[key] = some(value, rng, 2);
      else if (key === "expect" && isMap(value)) {
        out[key] = Object.fromEntries(
          Object.entries(value).map(([k, v]) => [k, Array.isArray(v) ? some(v, rng, 2) : v]),
        );
      } else if (key === "config" && isMap(value)) {
        const config: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) {
          if (!rng.chance(0.5)) continue;
          config[k] = isMap(v) && k !== "settings"
            ? Object.fromEntries(some(Object.entries(v), rng, 2))
            : v;
        }
        out[key] = config;
      } else if (key !== "description" || rng.chance(0.1)) out[key] = value;
    }
    return out;
  };

  /** YAML text of a mutated tree: mostly our writer, sometimes the yaml package's. */
  const yamlOf = (tree: unknown, rng: Rng, textOps: number): string => {
    const source = rng.chance(0.05) ? yamlText(tree) : yamlBlock(tree, rng);
    return rng.chance(0.2) ? mutateText(source, rng, YAML_TOKENS, textOps) : source;
  };

  const generate = (kind: number, variant: number, rng: Rng): string => {
    const novel = variant === NOVEL;
    switch (kind) {
      case INI: {
        const ini = rng.pick(iniBases);
        if (variant === TEXT) return mutateText(ini, rng, INI_TOKENS, 4);
        // A few lines of a base (section headers kept), then text mutations.
        const lines = ini.split("\n").filter((l) => l.startsWith("[") || rng.chance(0.25));
        return mutateText(lines.join("\n"), rng, INI_TOKENS, 3);
      }
      case YAML_DOC:
        if (variant === TEXT) return mutateText(EMBEDDED_DEFAULT_CONF, rng, YAML_TOKENS, 3);
        if (variant === TREE) return yamlOf(mutateTree(defaultDoc, rng, { yaml: true }), rng, 2);
        return yamlOf(mutateTree(domainDoc(rng), rng, { yaml: true, novel, big: novel }), rng, 2);
      case JSON_DOC: {
        const doc = variant === TREE ? defaultDoc : domainDoc(rng);
        const source = JSON.stringify(
          mutateTree(doc, rng, { yaml: false, novel: novel || variant === TREE }),
        );
        return rng.chance(0.3) ? mutateText(source ?? "null", rng, JSON_TOKENS, 2) : source;
      }
      default: {
        if (variant === TEXT) return mutateText(rng.pick(fixtures).text, rng, YAML_TOKENS, 3);
        const yaml = { yaml: true, novel, big: novel };
        if (variant === TREE) return yamlOf(mutateTree(rng.pick(fixtures).doc, rng, yaml), rng, 3);
        return yamlOf(mutateTree(smallFixture(rng), rng, yaml), rng, 3);
      }
    }
  };

  return {
    name: "config",
    kinds,
    generate(rng) {
      // Byte 0: kind | variant << 2 (inputs saved before variants existed replay as variant 0).
      let pick = rng.below(total);
      let step = plan[0]!;
      for (const p of plan) {
        step = p;
        if (pick < p.weight) break;
        pick -= p.weight;
      }
      const source = new TextEncoder().encode(generate(step.kind, step.variant, rng));
      const input = new Uint8Array(1 + source.length);
      input[0] = step.kind | (step.variant << 2);
      input.set(source, 1);
      return input;
    },
    close() {
      restore();
      if (warnings.count > 0) kinds["yaml warnings"] = warnings.count;
      return Promise.resolve();
    },
    check(input) {
      const kind = input[0]! % 4;
      const variant = VARIANT_NAMES[(input[0]! >> 2) % 4]!;
      const name = `${KIND_NAMES[kind]!}.${variant}`;
      kinds[name] = (kinds[name] ?? 0) + 1;
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
        let errors: boolean | undefined;
        expect("parseSettings()", [SettingsError], () => {
          const { settings, problems } = parseSettings(source, "fuzz.ini");
          property(Array.isArray(problems), "parseSettings() problems is not an array");
          property(typeof settings.input.port === "number", "settings.input has no port");
          errors = problems.some((p) => p.severity === "error");
        });
        // loadSettings() parses again (~60 µs): on whole-file inputs only, where it must agree.
        if (variant !== "small") {
          let threw = false;
          expect("loadSettings()", [SettingsError], () => {
            threw = true;
            loadSettings(source, "fuzz.ini");
            threw = false;
          });
          property(
            errors === undefined || threw === errors,
            () => `loadSettings() ${threw ? "threw" : "did not throw"} on problems ${errors}`,
          );
        }
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
