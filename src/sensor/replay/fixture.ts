/**
 * Replay fixtures (`qts replay`, SPEC §9): one YAML file per behaviour,
 * `tests/fixtures/<behaviour-name>/fixture.yaml`. Every key below is optional unless marked;
 * any other key is an error naming its path.
 *
 * ```yaml
 * description: what the fixture shows
 * domain: 8984                  # default domain of requests, logs and captures
 * start: 2023-11-14T22:13:20Z   # instant of `at: 0` (ISO or unix s; default 1700000000)
 * config:
 *   settings: { tsng: { hostname: h1 } }  # INI overrides; endpoints, dirs and workers are the replay's
 *   components: { many_uas: {…} }         # global components (components_config_dir)
 *   domain: { lm: {…}, fixed_lists: {…} } # the domain's own components (<domain>.json)
 *   domains: { "8985": {…} }              # more domains
 *   files: { extra.lua: "…" }             # Lua scripts and list files for components_config_dir
 * requests:                     # records; defaults GET / HTTP/1.1, host example.com, status 200
 *   - at: 0                     # seconds after start
 *     ip: 203.0.113.5           # or { range: 203.0.113.0/24 } / { one_of: [...] }; or ips: [...]
 *     user_agent: { one_of: [a, b] }   # any record field by wire name takes a value or a
 *     url: { format: "/p/{i}" }        # generator over the repeat index i
 *     repeat: { count: 100, every: 0.5 }
 * log: access.log               # or [{ file, format: auto|combined|json, domain }]; times from lines
 * pcap: capture.pcap            # HTTP/1.x requests reassembled, client IP and time from packets
 * expect:                       # required
 *   commands:                   # in order, each matched on the keys it states; none left over
 *     - { at: 30, method: add, ip_addr: 203.0.113.5, rule_name: r, comment: e, timeout: 3600 }
 *   none_for: [192.0.2.0/24]    # no command at all for these addresses
 * ```
 *
 * With logs or captures and no `requests`, `at` counts from the first record's whole second.
 * @module
 */
import { dirname, resolve } from "node:path";
import { COMMAND_KEYS } from "../lm/command.ts";
import { parse as parseYaml } from "yaml";
import { ConfigError, type Infer, type Schema, validate } from "../../shared/config/schema.ts";
import { IpSet } from "../../shared/net/ip_set.ts";
import { emptyRecord } from "../wire/record.ts";

/** Default domain of a fixture (the seed's example domain). */
export const DEFAULT_DOMAIN = 8984;
/** Default start of a fixture's virtual time, unix seconds (2023-11-14T22:13:20Z). */
export const DEFAULT_START = 1_700_000_000;

/** A scalar or a generator over the repeat index: `{one_of}`, `{range}` (IPs), `{format}`. */
export type ValueSpec =
  | string
  | number
  | { one_of: (string | number)[] }
  | { range: string }
  | { format: string };

/** One `requests:` entry: record fields by wire name plus `at`, `repeat`, `ip`, `user_agent`. */
export interface RequestSpec {
  /** Where in the fixture it stands (`requests[3]`), for error messages. */
  path: string;
  /** Seconds after the fixture's start. */
  at: number;
  repeat: { count: number; every: number };
  domain: number;
  /** Field name (wire name; `ip` for the client address) → value or generator. */
  fields: Map<string, ValueSpec>;
}

/** `log:` input: access log lines with their own timestamps. */
export interface LogSpec {
  file: string;
  format: "auto" | "combined" | "json";
  domain: number;
}

/** `pcap:` input: HTTP/1.x requests reassembled from a capture. */
export interface PcapSpec {
  file: string;
  domain: number;
}

/** What a fixture configures: INI overrides, components, domain files, files for Lua/lists. */
export interface FixtureConfig {
  /** INI sections → key → value, applied over the embedded defaults. */
  settings: Record<string, Record<string, string>>;
  /** Global components (components_config_dir/<name>.json). */
  components: Record<string, unknown>;
  /** Domain id → component objects (filters_config_dir/<id>.json). */
  domains: Map<number, Record<string, unknown>>;
  /** Extra files written into components_config_dir (Lua scripts, list files). */
  files: Record<string, string>;
}

/** `expect:` — commands in order matched on the keys they state; IPs that must get none. */
export interface Expectation {
  /** Undefined when the fixture states no command list (only `none_for`). */
  commands: Record<string, unknown>[] | undefined;
  none_for: string[];
  noneSet: IpSet | undefined;
}

/** A parsed, validated fixture. */
export interface Fixture {
  file: string;
  description: string;
  domain: number;
  /** Start of virtual time, unix seconds; `at: 0` is this instant. */
  start: number;
  config: FixtureConfig;
  requests: RequestSpec[];
  logs: LogSpec[];
  pcaps: PcapSpec[];
  expect: Expectation;
}

/** Keys an expected command may state (the outbound JSON keys plus `at`). */
export const EXPECTED_COMMAND_KEYS = ["at", ...COMMAND_KEYS] as const;

const RECORD_FIELDS = Object.keys(emptyRecord()).concat("remote_addr");
// Fields set from the request's own keys or computed: not writable from a fixture.
const COMPUTED = new Set(["timestamp", "msec", "remote_ip", "remote_addr"]);
const ALIASES: Record<string, string> = { user_agent: "http_user_agent" };

// The fixture's shape as a schema: the same validator as component configuration, so every
// unknown key or bad value is named by its path. What a schema cannot say is checked below.
const scalar = {
  type: "oneOf",
  hint: "a string or a number",
  options: [{ type: "string" }, { type: "number" }],
} as const satisfies Schema;
const valueSpec = {
  type: "oneOf",
  hint: "a value or a generator (one_of, range, format)",
  options: [
    { type: "string" },
    { type: "number" },
    {
      type: "object",
      required: ["one_of"],
      fields: { one_of: { type: "array", items: scalar, minItems: 1 } },
    },
    { type: "object", required: ["range"], fields: { range: { type: "string" } } },
    { type: "object", required: ["format"], fields: { format: { type: "string" } } },
  ],
} as const satisfies Schema;
const domainId = {
  type: "oneOf",
  hint: "a domain id",
  options: [
    { type: "integer", min: 0 },
    { type: "string", pattern: /^\d{1,10}$/, patternHint: "a domain id" },
  ],
} as const satisfies Schema;
const requestFields: Record<string, Schema> = {
  at: { type: "number", min: 0, default: 0 },
  domain: domainId,
  repeat: {
    type: "object",
    required: ["count"],
    fields: {
      count: { type: "integer", min: 1 },
      every: { type: "number", min: 0, default: 0 },
    },
  },
  ip: valueSpec,
  ips: { type: "array", items: scalar },
  user_agent: valueSpec,
};
for (const field of RECORD_FIELDS) requestFields[field] ??= valueSpec;
const inputFile = (fields: Record<string, Schema>) =>
  ({
    type: "oneOf",
    hint: "a file name, { file, … } or a list of them",
    options: [
      { type: "string" },
      { type: "object", required: ["file"], fields: { file: { type: "string" }, ...fields } },
      {
        type: "array",
        items: {
          type: "oneOf",
          hint: "a file name or { file, … }",
          options: [
            { type: "string" },
            { type: "object", required: ["file"], fields: { file: { type: "string" }, ...fields } },
          ],
        },
      },
    ],
  }) as const satisfies Schema;
const components = { type: "map", values: { type: "any" } } as const satisfies Schema;
const FIXTURE_SCHEMA = {
  type: "object",
  required: ["expect"],
  fields: {
    description: { type: "string", default: "" },
    domain: domainId,
    start: { type: "any" },
    config: {
      type: "object",
      fields: {
        settings: {
          type: "map",
          values: {
            type: "map",
            values: {
              type: "oneOf",
              hint: "a scalar or a list",
              options: [
                { type: "string" },
                { type: "number" },
                { type: "boolean" },
                { type: "array", items: scalar },
              ],
            },
          },
          default: {},
        },
        components: { ...components, default: {} },
        domain: components,
        domains: {
          type: "map",
          keyPattern: /^\d{1,10}$/,
          keyHint: "a domain id",
          values: components,
          default: {},
        },
        files: {
          type: "map",
          keyPattern: /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/,
          keyHint: "a file name of letters, digits, _ . - (no directories)",
          values: { type: "string" },
          default: {},
        },
      },
    },
    requests: { type: "array", items: { type: "object", fields: requestFields }, default: [] },
    log: inputFile({
      format: { type: "string", enum: ["auto", "combined", "json"], default: "auto" },
      domain: domainId,
    }),
    pcap: inputFile({ domain: domainId }),
    expect: {
      type: "object",
      fields: {
        commands: {
          type: "array",
          items: {
            type: "object",
            fields: Object.fromEntries(EXPECTED_COMMAND_KEYS.map((k) => [k, { type: "any" }])),
          },
        },
        none_for: { type: "array", items: { type: "string" }, default: [] },
      },
    },
  },
} as const satisfies Schema;

type FixtureDoc = Infer<typeof FIXTURE_SCHEMA>;

function fail(file: string, path: string, message: string): never {
  throw new TypeError(`${file}: ${path || "(top)"}: ${message}`);
}

function toDomain(value: unknown, fallback: number): number {
  return value === undefined ? fallback : Number(value);
}

function startTime(file: string, value: unknown): number {
  if (value === undefined) return DEFAULT_START;
  if (value instanceof Date) return value.getTime() / 1000;
  if (typeof value === "string") {
    const t = Date.parse(value);
    if (Number.isNaN(t)) fail(file, "start", `"${value}" is not an ISO date`);
    return t / 1000;
  }
  if (typeof value !== "number" || !(value >= 0)) {
    fail(file, "start", `expected an ISO date or unix seconds ≥ 0, got ${String(value)}`);
  }
  return value;
}

function requestSpec(
  file: string,
  path: string,
  item: Record<string, unknown>,
  domain: number,
): RequestSpec {
  const spec: RequestSpec = {
    path,
    at: item.at as number,
    repeat: (item.repeat as RequestSpec["repeat"] | undefined) ?? { count: 1, every: 0 },
    domain: toDomain(item.domain, domain),
    fields: new Map(),
  };
  if (item.ip !== undefined && item.ips !== undefined) fail(file, path, "give either ip or ips");
  if (item.ips !== undefined) spec.fields.set("ip", { one_of: item.ips as (string | number)[] });
  for (const [key, raw] of Object.entries(item)) {
    if (key === "at" || key === "domain" || key === "repeat" || key === "ips") continue;
    const where = `${path}.${key}`;
    const field = ALIASES[key] ?? key;
    if (COMPUTED.has(field)) fail(file, where, "is computed from at/ip; set those instead");
    const value = raw as ValueSpec;
    if (typeof value === "object" && "range" in value) {
      if (key !== "ip") fail(file, `${where}.range`, "range generates IP addresses: use it on ip");
      if (!value.range.includes("/")) {
        fail(file, `${where}.range`, `"${value.range}" is not a CIDR range`);
      }
      try {
        IpSet.from([value.range], () => `${where}.range`);
      } catch (error) {
        throw new TypeError(`${file}: ${(error as Error).message}`, { cause: error });
      }
    }
    spec.fields.set(field, value);
  }
  if (!spec.fields.has("ip")) fail(file, path, "needs ip or ips");
  return spec;
}

function inputs<T extends { file: string }>(
  value: string | T | (string | T)[] | undefined,
  base: string,
): (T | { file: string })[] {
  if (value === undefined) return [];
  const items = Array.isArray(value) ? value : [value];
  return items.map((item) =>
    typeof item === "string"
      ? { file: resolve(base, item) }
      : { ...item, file: resolve(base, item.file) }
  );
}

function fixtureConfig(file: string, doc: FixtureDoc, domain: number): FixtureConfig {
  const config = doc.config;
  const settings: FixtureConfig["settings"] = {};
  for (const [section, keys] of Object.entries(config?.settings ?? {})) {
    settings[section] = {};
    for (const [key, v] of Object.entries(keys)) {
      settings[section][key] = Array.isArray(v) ? v.join(", ") : String(v);
    }
  }
  const domains = new Map<number, Record<string, unknown>>();
  if (config?.domain !== undefined) domains.set(domain, config.domain);
  for (const [id, components] of Object.entries(config?.domains ?? {})) {
    if (domains.has(Number(id))) {
      fail(file, `config.domains.${id}`, `domain ${id} is configured twice`);
    }
    domains.set(Number(id), components);
  }
  return { settings, components: config?.components ?? {}, domains, files: config?.files ?? {} };
}

function expectation(file: string, expect: FixtureDoc["expect"]): Expectation {
  const commands = expect.commands as Record<string, unknown>[] | undefined;
  const none = expect.none_for;
  let noneSet: IpSet | undefined;
  try {
    noneSet = none.length > 0 ? IpSet.from(none, (i) => `expect.none_for[${i}]`) : undefined;
  } catch (error) {
    fail(file, "expect.none_for", (error as Error).message);
  }
  if (commands === undefined && none.length === 0) {
    fail(file, "expect", "states neither commands nor none_for");
  }
  return { commands, none_for: none, noneSet };
}

/**
 * Parses and validates a fixture's YAML text. Every unknown key or bad value is a TypeError
 * naming the file and the path (`requests[2].repeat: unknown field "cout"`), so a typo never
 * silently turns into a fixture that tests nothing.
 */
export function parseFixture(text: string, file: string): Fixture {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new SyntaxError(`${file}: cannot parse YAML: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (typeof raw === "object" && raw !== null && !("expect" in raw)) {
    fail(file, "expect", "every fixture states what it expects");
  }
  let doc: FixtureDoc;
  try {
    doc = validate(FIXTURE_SCHEMA, raw, "") as FixtureDoc;
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new TypeError(`${file}: ${error.message}`, { cause: error });
    }
    throw error;
  }
  const base = dirname(resolve(file));
  const domain = toDomain(doc.domain, DEFAULT_DOMAIN);
  const requests = doc.requests.map((item, i) =>
    requestSpec(file, `requests[${i}]`, item as Record<string, unknown>, domain)
  );
  const logs: LogSpec[] = inputs(doc.log, base).map((l) => {
    const o = l as { file: string; format?: LogSpec["format"]; domain?: unknown };
    return { file: o.file, format: o.format ?? "auto", domain: toDomain(o.domain, domain) };
  });
  const pcaps: PcapSpec[] = inputs(doc.pcap, base).map((p) => {
    const o = p as { file: string; domain?: unknown };
    return { file: o.file, domain: toDomain(o.domain, domain) };
  });
  if (requests.length === 0 && logs.length === 0 && pcaps.length === 0) {
    fail(file, "", "needs requests, log or pcap");
  }
  return {
    file,
    description: doc.description,
    domain,
    start: startTime(file, doc.start),
    config: fixtureConfig(file, doc, domain),
    requests,
    logs,
    pcaps,
    expect: expectation(file, doc.expect),
  };
}
