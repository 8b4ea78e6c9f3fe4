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

const RECORD_FIELDS = new Set(Object.keys(emptyRecord()).concat("remote_addr"));
// Fields set from the request's own keys or computed: not writable from a fixture.
const COMPUTED = new Set(["timestamp", "msec", "remote_ip", "remote_addr"]);
const ALIASES: Record<string, string> = { user_agent: "http_user_agent" };

function fail(file: string, path: string, message: string): never {
  throw new TypeError(`${file}: ${path || "(top)"}: ${message}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function object(file: string, path: string, value: unknown): Record<string, unknown> {
  if (!isObject(value)) fail(file, path, `expected a mapping, got ${describe(value)}`);
  return value;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "a mapping" : `${typeof value} ${JSON.stringify(value)}`;
}

function only(file: string, path: string, obj: Record<string, unknown>, keys: readonly string[]) {
  for (const key of Object.keys(obj)) {
    if (!keys.includes(key)) {
      fail(file, join(path, key), `unknown key (expected one of: ${keys.join(", ")})`);
    }
  }
}

function join(path: string, key: string | number): string {
  return typeof key === "number" ? `${path}[${key}]` : path ? `${path}.${key}` : key;
}

function number(file: string, path: string, value: unknown, min = -Infinity): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    fail(
      file,
      path,
      `expected a number${min > -Infinity ? ` ≥ ${min}` : ""}, got ${describe(value)}`,
    );
  }
  return value;
}

function integer(file: string, path: string, value: unknown, min: number): number {
  const n = number(file, path, value, min);
  if (!Number.isInteger(n)) fail(file, path, `expected an integer, got ${n}`);
  return n;
}

function string(file: string, path: string, value: unknown): string {
  if (typeof value !== "string") fail(file, path, `expected a string, got ${describe(value)}`);
  return value;
}

function list(file: string, path: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) fail(file, path, `expected a list, got ${describe(value)}`);
  return value;
}

function domainId(file: string, path: string, value: unknown): number {
  const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  return integer(file, path, n, 0);
}

function startTime(file: string, path: string, value: unknown): number {
  if (value === undefined) return DEFAULT_START;
  if (value instanceof Date) return value.getTime() / 1000;
  if (typeof value === "string") {
    const t = Date.parse(value);
    if (Number.isNaN(t)) fail(file, path, `"${value}" is not an ISO date`);
    return t / 1000;
  }
  return number(file, path, value, 0);
}

function valueSpec(file: string, path: string, key: string, value: unknown): ValueSpec {
  if (typeof value === "string" || typeof value === "number") return value;
  const obj = object(file, path, value);
  const keys = Object.keys(obj);
  if (keys.length !== 1) {
    fail(file, path, "a generator has exactly one key: one_of, range (ip only) or format");
  }
  if ("one_of" in obj) {
    const items = list(file, join(path, "one_of"), obj.one_of);
    if (items.length === 0) fail(file, join(path, "one_of"), "needs at least one value");
    return {
      one_of: items.map((item, i) => {
        if (typeof item !== "string" && typeof item !== "number") {
          fail(file, join(join(path, "one_of"), i), `expected a scalar, got ${describe(item)}`);
        }
        return item;
      }),
    };
  }
  if ("range" in obj) {
    if (key !== "ip") fail(file, join(path, "range"), "range generates IP addresses: use it on ip");
    const cidr = string(file, join(path, "range"), obj.range);
    try {
      IpSet.from([cidr], () => join(path, "range"));
    } catch (error) {
      fail(file, join(path, "range"), (error as Error).message);
    }
    if (!cidr.includes("/")) fail(file, join(path, "range"), `"${cidr}" is not a CIDR range`);
    return { range: cidr };
  }
  if ("format" in obj) return { format: string(file, join(path, "format"), obj.format) };
  return fail(file, join(path, keys[0]!), "unknown generator (one_of, range, format)");
}

function requestSpec(
  file: string,
  path: string,
  value: unknown,
  domain: number,
): RequestSpec {
  const obj = object(file, path, value);
  const spec: RequestSpec = {
    path,
    at: 0,
    repeat: { count: 1, every: 0 },
    domain,
    fields: new Map(),
  };
  for (const [key, raw] of Object.entries(obj)) {
    const where = join(path, key);
    if (key === "at") spec.at = number(file, where, raw, 0);
    else if (key === "domain") spec.domain = domainId(file, where, raw);
    else if (key === "repeat") {
      const r = object(file, where, raw);
      only(file, where, r, ["count", "every"]);
      spec.repeat = {
        count: integer(file, join(where, "count"), r.count, 1),
        every: r.every === undefined ? 0 : number(file, join(where, "every"), r.every, 0),
      };
    } else if (key === "ips") {
      if (spec.fields.has("ip")) fail(file, where, "give either ip or ips");
      spec.fields.set("ip", valueSpec(file, where, "ip", { one_of: list(file, where, raw) }));
    } else if (key === "ip") {
      if (spec.fields.has("ip")) fail(file, where, "give either ip or ips");
      spec.fields.set("ip", valueSpec(file, where, "ip", raw));
    } else {
      const field = ALIASES[key] ?? key;
      if (!RECORD_FIELDS.has(field) || COMPUTED.has(field)) {
        fail(
          file,
          where,
          COMPUTED.has(field)
            ? "is computed from at/ip; set those instead"
            : "unknown key (a record field by wire name, or at, repeat, ip, ips, user_agent, domain)",
        );
      }
      spec.fields.set(field, valueSpec(file, where, key, raw));
    }
  }
  if (!spec.fields.has("ip")) fail(file, path, "needs ip or ips");
  return spec;
}

function inputFiles<T>(
  path: string,
  value: unknown,
  make: (where: string, item: unknown) => T,
): T[] {
  const items = Array.isArray(value) ? value : [value];
  return items.map((item, i) => make(Array.isArray(value) ? join(path, i) : path, item));
}

function settingsOverrides(
  file: string,
  path: string,
  value: unknown,
): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [section, keys] of Object.entries(object(file, path, value))) {
    const where = join(path, section);
    out[section] = {};
    for (const [key, v] of Object.entries(object(file, where, keys))) {
      if (Array.isArray(v)) out[section][key] = v.join(", ");
      else if (["string", "number", "boolean"].includes(typeof v)) out[section][key] = String(v);
      else fail(file, join(where, key), `expected a scalar or list, got ${describe(v)}`);
    }
  }
  return out;
}

function fixtureConfig(file: string, value: unknown, domain: number): FixtureConfig {
  const config: FixtureConfig = { settings: {}, components: {}, domains: new Map(), files: {} };
  if (value === undefined) return config;
  const obj = object(file, "config", value);
  only(file, "config", obj, ["settings", "components", "domain", "domains", "files"]);
  if (obj.settings !== undefined) {
    config.settings = settingsOverrides(file, "config.settings", obj.settings);
  }
  if (obj.components !== undefined) {
    config.components = object(file, "config.components", obj.components);
  }
  if (obj.domain !== undefined) {
    config.domains.set(domain, object(file, "config.domain", obj.domain));
  }
  if (obj.domains !== undefined) {
    for (const [id, components] of Object.entries(object(file, "config.domains", obj.domains))) {
      const where = join("config.domains", id);
      const n = domainId(file, where, id);
      if (config.domains.has(n)) fail(file, where, `domain ${n} is configured twice`);
      config.domains.set(n, object(file, where, components));
    }
  }
  if (obj.files !== undefined) {
    for (const [name, text] of Object.entries(object(file, "config.files", obj.files))) {
      const where = join("config.files", name);
      if (!/^[A-Za-z0-9_.-]+$/.test(name) || name.startsWith(".")) {
        fail(file, where, "a file name of letters, digits, _ . - (no directories)");
      }
      config.files[name] = string(file, where, text);
    }
  }
  return config;
}

function expectation(file: string, value: unknown): Expectation {
  if (value === undefined) fail(file, "expect", "every fixture states what it expects");
  const obj = object(file, "expect", value);
  only(file, "expect", obj, ["commands", "none_for"]);
  let commands: Record<string, unknown>[] | undefined;
  if (obj.commands !== undefined && obj.commands !== null) {
    commands = list(file, "expect.commands", obj.commands).map((item, i) => {
      const where = join("expect.commands", i);
      const cmd = object(file, where, item);
      only(file, where, cmd, EXPECTED_COMMAND_KEYS);
      return cmd;
    });
  }
  const none = obj.none_for === undefined
    ? []
    : list(file, "expect.none_for", obj.none_for).map((ip, i) =>
      string(file, join("expect.none_for", i), ip)
    );
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
 * naming the file and the path (`requests[2].repeat.cout: unknown key`), so a typo never
 * silently turns into a fixture that tests nothing.
 */
export function parseFixture(text: string, file: string): Fixture {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw new SyntaxError(`${file}: cannot parse YAML: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const top = object(file, "", doc);
  only(file, "", top, [
    "description",
    "domain",
    "start",
    "config",
    "requests",
    "log",
    "pcap",
    "expect",
  ]);
  const base = dirname(resolve(file));
  const domain = top.domain === undefined ? DEFAULT_DOMAIN : domainId(file, "domain", top.domain);
  const requests = top.requests === undefined
    ? []
    : list(file, "requests", top.requests).map((item, i) =>
      requestSpec(file, join("requests", i), item, domain)
    );
  const logs = top.log === undefined ? [] : inputFiles("log", top.log, (where, item) => {
    if (typeof item === "string") {
      return { file: resolve(base, item), format: "auto", domain } as LogSpec;
    }
    const obj = object(file, where, item);
    only(file, where, obj, ["file", "format", "domain"]);
    const format = obj.format === undefined
      ? "auto"
      : string(file, join(where, "format"), obj.format);
    if (format !== "auto" && format !== "combined" && format !== "json") {
      fail(file, join(where, "format"), `"${format}" is not auto, combined or json`);
    }
    return {
      file: resolve(base, string(file, join(where, "file"), obj.file)),
      format,
      domain: obj.domain === undefined ? domain : domainId(file, join(where, "domain"), obj.domain),
    } as LogSpec;
  });
  const pcaps = top.pcap === undefined ? [] : inputFiles("pcap", top.pcap, (where, item) => {
    if (typeof item === "string") return { file: resolve(base, item), domain };
    const obj = object(file, where, item);
    only(file, where, obj, ["file", "domain"]);
    return {
      file: resolve(base, string(file, join(where, "file"), obj.file)),
      domain: obj.domain === undefined ? domain : domainId(file, join(where, "domain"), obj.domain),
    };
  });
  if (requests.length === 0 && logs.length === 0 && pcaps.length === 0) {
    fail(file, "", "needs requests, log or pcap");
  }
  return {
    file,
    description: top.description === undefined ? "" : string(file, "description", top.description),
    domain,
    start: startTime(file, "start", top.start),
    config: fixtureConfig(file, top.config, domain),
    requests,
    logs,
    pcaps,
    expect: expectation(file, top.expect),
  };
}
