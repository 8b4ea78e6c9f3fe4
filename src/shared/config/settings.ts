import { parse as parseIni } from "ini";

/** Main settings from the INI file (SPEC §3). */
export interface Settings {
  input: Endpoint;
  input_socket: "pull" | "sub";
  /** Domain ids to process, or "*" for every domain. */
  force_domains: number[] | "*";
  api_server_host: string;
  api_server_port: number;
  api_token: string;
  /**
   * More `Host` names the API answers to besides its listen address (and loopback names when
   * on loopback): `name` with any port or `name:port`, e.g. a reverse proxy's name.
   */
  api_allowed_hosts: string[];
  filters_config_dir: string[];
  components_config_dir: string;
  autodiscover: boolean;
  autodiscover_interval: number;
  autoreload_filters: boolean;
  autoreload_components: boolean;
  workers: number;
  geoip_db: string;
  state_dir: string;
  hostname: string;
  syslog_input: string;
  max_body: number;
  /**
   * Most domains without a configuration of their own (force_domains = *) that may have a filter
   * chain at once; records of further ones are dropped as `domain_cap`.
   */
  domain_cap: number;
  /** Seconds without a record after which such a domain's chain and per-IP state are dropped. */
  domain_idle: number;
  qpc_outbound: Endpoint;
  telemetry_outbound: string;
  /** CURVE secret key file (Z85, 40 characters) of the input socket; "" = no CURVE. */
  curve_secret_key_file: string;
  /** Client public keys (Z85, one a line, # comments) allowed to feed the input. */
  curve_authorized_keys_file: string;
  /** CURVE secret key file of the outbound PUB; "" = no CURVE. */
  qpc_curve_secret_key_file: string;
  /** Subscriber (bouncer) public keys allowed to read commands. */
  qpc_curve_authorized_keys_file: string;
  /** Lets input/outbound bind off loopback without CURVE (with a warning). */
  allow_insecure_bind: boolean;
  log_level: "debug" | "info" | "warn" | "error";
  /**
   * The `[proxy]` and `[proxy:<kind>:<name>]` sections as written (values as text), read by the
   * proxy's own settings parser (src/sensor/proxy/proxy_settings.ts), which names bad keys.
   */
  proxy: Record<string, Record<string, string>>;
}

/** A parsed `tcp://host:port` ZeroMQ endpoint. */
export interface Endpoint {
  readonly text: string;
  readonly host: string;
  readonly port: number;
}

/** One problem in a settings file: where, which key, and what is wrong. */
export interface SettingsProblem {
  file: string;
  key: string;
  message: string;
  severity: "error" | "warning";
}

/** Thrown when settings have errors; carries every problem found, not only the first. */
export class SettingsError extends TypeError {
  constructor(readonly problems: SettingsProblem[]) {
    super(problems.filter((p) => p.severity === "error").map(formatProblem).join("\n"));
    this.name = "SettingsError";
  }
}

/** `file: [section] key: message`. */
export function formatProblem(p: SettingsProblem): string {
  return `${p.file}: ${p.key}: ${p.message}`;
}

/** The embedded defaults: everything on loopback, every domain processed. */
export const DEFAULT_INI = `
[tsng]
input = tcp://127.0.0.1:4100
input_socket = pull
force_domains = *
api_server_host = 127.0.0.1
api_server_port = 4180
api_token =
api_allowed_hosts =
filters_config_dir = ./state/filters
components_config_dir = ./state/components
autodiscover = true
autodiscover_interval = 300
autoreload_filters = false
autoreload_components = false
workers = 2
geoip_db =
state_dir = ./state
hostname =
syslog_input =
max_body = 1048576
domain_cap = 10000
domain_idle = 600
log_level = info
curve_secret_key_file =
curve_authorized_keys_file =
allow_insecure_bind = false
[tsng:qpc]
outbound = tcp://127.0.0.1:4101
curve_secret_key_file =
curve_authorized_keys_file =
[tsng:telemetry]
outbound =
`;

type Section = Record<string, unknown>;

const KNOWN: Record<string, readonly string[]> = {
  tsng: [
    "input",
    "input_socket",
    "force_domains",
    "api_server_host",
    "api_server_port",
    "api_token",
    "api_allowed_hosts",
    "filters_config_dir",
    "components_config_dir",
    "autodiscover",
    "autodiscover_interval",
    "autoreload_filters",
    "autoreload_components",
    "workers",
    "geoip_db",
    "state_dir",
    "hostname",
    "syslog_input",
    "max_body",
    "domain_cap",
    "domain_idle",
    "log_level",
    "curve_secret_key_file",
    "curve_authorized_keys_file",
    "allow_insecure_bind",
  ],
  "tsng:qpc": [
    "outbound",
    "curve_secret_key_file",
    "curve_authorized_keys_file",
  ],
  "tsng:telemetry": ["outbound"],
};

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Parses `tcp://host:port` (host may be `*`, a name, IPv4 or `[IPv6]`). Throws TypeError. */
export function parseEndpoint(text: string): Endpoint {
  const match = /^tcp:\/\/(\*|\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/
    .exec(text.trim());
  if (!match) {
    throw new TypeError(`"${text}" is not a tcp://host:port endpoint`);
  }
  const port = Number(match[2]);
  if (port < 1 || port > 65535) {
    throw new TypeError(`port ${port} in "${text}" is out of range`);
  }
  return { text: text.trim(), host: match[1]!, port };
}

/**
 * Parses the INI text of the main settings over the embedded defaults. Unknown keys are
 * warnings, bad values errors; all are collected so `check-config` can list them at once.
 */
export function parseSettings(
  text: string,
  file: string,
): { settings: Settings; problems: SettingsProblem[] } {
  const problems: SettingsProblem[] = [];
  const proxy: Record<string, Record<string, string>> = {};
  const base = parseIni(DEFAULT_INI) as Record<string, Section>;
  let user: Record<string, Section | unknown>;
  try {
    user = parseIni(text) as Record<string, Section | unknown>;
  } catch (error) {
    throw new SettingsError([{
      file,
      key: "(file)",
      message: `cannot parse INI: ${(error as Error).message}`,
      severity: "error",
    }]);
  }
  for (const [section, values] of Object.entries(user)) {
    if (typeof values !== "object" || values === null) {
      problems.push({
        file,
        key: section,
        message: "key outside any section (expected under [tsng])",
        severity: "warning",
      });
      continue;
    }
    if (section === "proxy" || section.startsWith("proxy:")) {
      proxy[section] = Object.fromEntries(
        Object.entries(values as Section).map(([k, v]) => [k, v === true ? "true" : String(v)]),
      );
      continue;
    }
    // Own keys only: a section named like an Object.prototype member ("constructor") is unknown.
    const known = Object.hasOwn(KNOWN, section) ? KNOWN[section] : undefined;
    if (!known) {
      problems.push({ file, key: `[${section}]`, message: "unknown section", severity: "warning" });
      continue;
    }
    for (const [key, value] of Object.entries(values as Section)) {
      if (!known.includes(key)) {
        problems.push({
          file,
          key: `[${section}] ${key}`,
          message: "unknown key (ignored)",
          severity: "warning",
        });
        continue;
      }
      base[section]![key] = value;
    }
  }
  const raw = (section: string, key: string): string => {
    const value = base[section]?.[key];
    return value === undefined || value === null || value === true ? "" : String(value).trim();
  };
  const fail = (section: string, key: string, message: string) =>
    problems.push({ file, key: `[${section}] ${key}`, message, severity: "error" });

  const endpoint = (section: string, key: string): Endpoint => {
    try {
      return parseEndpoint(raw(section, key));
    } catch (error) {
      fail(section, key, (error as Error).message);
      return { text: "", host: "", port: 0 };
    }
  };
  const integer = (
    section: string,
    key: string,
    min: number,
    max: number,
  ): number => {
    const text = raw(section, key);
    if (!/^\d+$/.test(text)) {
      fail(section, key, `"${text}" is not a whole number`);
      return min;
    }
    const value = Number(text);
    if (value < min || value > max) {
      fail(section, key, `${value} is outside ${min}..${max}`);
    }
    return value;
  };
  const boolean = (section: string, key: string): boolean => {
    const value = base[section]?.[key];
    if (typeof value === "boolean") return value;
    const text = raw(section, key).toLowerCase();
    if (["true", "yes", "on", "1"].includes(text)) return true;
    if (["false", "no", "off", "0"].includes(text)) return false;
    fail(section, key, `"${text}" is not true or false`);
    return false;
  };
  const list = (section: string, key: string): string[] =>
    raw(section, key).split(",").map((s) => s.trim()).filter((s) => s !== "");
  const oneOf = <T extends string>(section: string, key: string, values: readonly T[]): T => {
    const text = raw(section, key) as T;
    if (!values.includes(text)) {
      fail(section, key, `"${text}" is not one of ${values.join(", ")}`);
      return values[0]!;
    }
    return text;
  };

  let forceDomains: number[] | "*" = "*";
  const domains = list("tsng", "force_domains");
  if (!(domains.length === 1 && domains[0] === "*")) {
    forceDomains = [];
    for (const d of domains) {
      if (!/^\d{1,10}$/.test(d) || Number(d) > 0xffffffff) {
        fail("tsng", "force_domains", `"${d}" is not a domain id (decimal integer) or *`);
      } else forceDomains.push(Number(d));
    }
  }

  const telemetry = raw("tsng:telemetry", "outbound");
  if (telemetry !== "") endpoint("tsng:telemetry", "outbound");
  const syslog = raw("tsng", "syslog_input");
  if (syslog !== "" && !/^udp:\/\/[^:\s]+:\d{1,5}$/.test(syslog)) {
    fail("tsng", "syslog_input", `"${syslog}" is not a udp://host:port address`);
  }

  const settings: Settings = {
    input: endpoint("tsng", "input"),
    input_socket: oneOf("tsng", "input_socket", ["pull", "sub"] as const),
    force_domains: forceDomains,
    api_server_host: raw("tsng", "api_server_host"),
    api_server_port: integer("tsng", "api_server_port", 1, 65535),
    api_token: raw("tsng", "api_token"),
    api_allowed_hosts: list("tsng", "api_allowed_hosts"),
    filters_config_dir: list("tsng", "filters_config_dir"),
    components_config_dir: raw("tsng", "components_config_dir"),
    autodiscover: boolean("tsng", "autodiscover"),
    autodiscover_interval: integer("tsng", "autodiscover_interval", 1, 86400),
    autoreload_filters: boolean("tsng", "autoreload_filters"),
    autoreload_components: boolean("tsng", "autoreload_components"),
    workers: integer("tsng", "workers", 0, 64),
    geoip_db: raw("tsng", "geoip_db"),
    state_dir: raw("tsng", "state_dir"),
    hostname: raw("tsng", "hostname"),
    syslog_input: syslog,
    max_body: integer("tsng", "max_body", 1024, 64 << 20),
    domain_cap: integer("tsng", "domain_cap", 1, 1_000_000),
    domain_idle: integer("tsng", "domain_idle", 30, 7 * 86400),
    log_level: oneOf(
      "tsng",
      "log_level",
      ["info", "debug", "warn", "error"] as const,
    ),
    qpc_outbound: endpoint("tsng:qpc", "outbound"),
    telemetry_outbound: telemetry,
    curve_secret_key_file: raw("tsng", "curve_secret_key_file"),
    curve_authorized_keys_file: raw("tsng", "curve_authorized_keys_file"),
    qpc_curve_secret_key_file: raw("tsng:qpc", "curve_secret_key_file"),
    qpc_curve_authorized_keys_file: raw(
      "tsng:qpc",
      "curve_authorized_keys_file",
    ),
    allow_insecure_bind: boolean("tsng", "allow_insecure_bind"),
    proxy,
  };
  // Issue 17 item 10: a PULL/PUB reachable off loopback without CURVE lets anyone who reaches
  // it feed records (and so ban any IP) or read every command.
  const sockets = [
    [
      "tsng",
      "input",
      "curve_secret_key_file",
      "curve_authorized_keys_file",
      "feed records and so ban any IP",
    ],
    [
      "tsng:qpc",
      "outbound",
      "curve_secret_key_file",
      "curve_authorized_keys_file",
      "read every ban command",
    ],
  ] as const;
  for (const [section, key, secretKey, authorizedKey, risk] of sockets) {
    const secret = raw(section, secretKey);
    const authorized = raw(section, authorizedKey);
    if ((secret === "") !== (authorized === "")) {
      fail(
        section,
        secret === "" ? secretKey : authorizedKey,
        `required together with ${secret === "" ? authorizedKey : secretKey}`,
      );
    }
    const host = section === "tsng" ? settings.input.host : settings.qpc_outbound.host;
    const binds = section === "tsng:qpc" || settings.input_socket === "pull";
    const bad = problems.some((p) => p.key === `[${section}] ${key}` && p.severity === "error");
    if (bad || !binds || isLoopback(host) || secret !== "") continue;
    const message =
      `binds ${host} off loopback without CURVE: anyone who reaches it can ${risk}; ` +
      `set ${secretKey} and ${authorizedKey}, or allow_insecure_bind = true to accept the risk`;
    if (settings.allow_insecure_bind) {
      problems.push({
        file,
        key: `[${section}] ${key}`,
        message,
        severity: "warning",
      });
    } else fail(section, key, message);
  }
  if (settings.api_server_host === "") {
    fail("tsng", "api_server_host", "must not be empty");
  }
  if (
    settings.api_server_host !== "" && !isLoopback(settings.api_server_host) &&
    settings.api_token === ""
  ) {
    fail(
      "tsng",
      "api_token",
      `required when api_server_host (${settings.api_server_host}) is not a loopback address`,
    );
  }
  if (settings.filters_config_dir.length === 0) {
    fail("tsng", "filters_config_dir", "needs at least one directory");
  }
  return { settings, problems };
}

/** Like {@linkcode parseSettings} but throws a {@linkcode SettingsError} on any error. */
export function loadSettings(text: string, file: string): Settings {
  const { settings, problems } = parseSettings(text, file);
  if (problems.some((p) => p.severity === "error")) {
    throw new SettingsError(problems);
  }
  return settings;
}
