import type { Settings, SettingsProblem } from "../../shared/config/settings.ts";
import { IpSet } from "../../shared/net/ip_set.ts";
import type { ListenerConfig, ProxyLimits } from "./proxy_context.ts";

/** The proxy's configuration from qts.ini (`[proxy]`, `[proxy:http|tcp|pool:<name>]`). */
export interface ProxySettings {
  /** `qts serve` runs the proxy in process when true. */
  enabled: boolean;
  /** Domain id of records from listeners that do not set their own. */
  domain: number;
  trusted: IpSet | undefined;
  banStatus: number;
  /** Enforce bans of these rule names only; empty = all. */
  banRules: string[];
  /** A remote sensor's command PUB (`tcp://host:port`) to take bans from; "" = in process. */
  bansFrom: string;
  /** That sensor's API for resyncs of its active bans; "" = commands only. */
  bansApi: string;
  /** A sensor's record input (`tcp://host:port`) to PUSH records to (`qts proxy`); "" = none. */
  recordsTo: string;
  /** `host:port` serving `/metrics` and `/proxy` for `qts proxy`; "" = none. */
  api: string;
  limits: ProxyLimits;
  listeners: ListenerConfig[];
  /**
   * Pools by name, in the shape `validatePoolOptions` takes (upstream_pool.ts): the INI keys
   * turned into `{name, balance, servers, health, passive}`.
   */
  pools: Map<string, Record<string, unknown>>;
}

const PROXY_KEYS = [
  "enabled",
  "domain",
  "trusted_proxies",
  "ban_status",
  "ban_rules",
  "bans_from",
  "bans_api",
  "records_to",
  "api",
  "header_timeout",
  "body_timeout",
  "idle_timeout",
  "send_timeout",
  "connect_timeout",
  "upstream_timeout",
  "tunnel_idle_timeout",
  "max_header_bytes",
  "max_conns_per_ip",
  "retries",
];
const LISTENER_KEYS = [
  "listen",
  "pool",
  "domain",
  "proxy_protocol",
  "upstream_proxy_protocol",
  "tls_cert",
  "tls_key",
];
const POOL_KEYS = [
  "balance",
  "servers",
  "health",
  "health_path",
  "health_interval",
  "health_timeout",
  "health_status",
  "health_rise",
  "health_fall",
  "max_fails",
  "fail_timeout",
];

/** `host:port` with an IPv6 host in brackets; undefined when it is not one. */
export function parseHostPort(text: string): { hostname: string; port: number } | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text.trim());
  if (!m || Number(m[2]) > 65535) return undefined;
  return { hostname: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]) };
}

/**
 * Reads the proxy's sections of `settings` (kept as text by the INI parser). Every problem is
 * collected with its section and key, as the main settings report theirs; `settings` is
 * undefined when there is an error.
 *
 * ```ini
 * [proxy]
 * enabled = true
 * trusted_proxies = 10.0.0.0/8
 * [proxy:http:web]
 * listen = 127.0.0.1:8080
 * pool = web
 * [proxy:pool:web]
 * balance = round_robin
 * servers = 127.0.0.1:9001 weight=2, 127.0.0.1:9002
 * health = http
 * health_path = /healthz
 * ```
 */
export function parseProxySettings(
  settings: Settings,
  file: string,
): { settings: ProxySettings | undefined; problems: SettingsProblem[] } {
  const problems: SettingsProblem[] = [];
  const sections = settings.proxy;
  const fail = (section: string, key: string, message: string) =>
    problems.push({ file, key: `[${section}] ${key}`, message, severity: "error" });
  const known = (section: string, keys: readonly string[]) => {
    for (const key of Object.keys(sections[section] ?? {})) {
      if (!keys.includes(key)) {
        problems.push({
          file,
          key: `[${section}] ${key}`,
          message: "unknown key (ignored)",
          severity: "warning",
        });
      }
    }
  };
  const raw = (section: string, key: string, fallback: string) =>
    (sections[section]?.[key] ?? fallback).trim();
  const integer = (section: string, key: string, fallback: number, min: number, max: number) => {
    const text = raw(section, key, String(fallback));
    if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
      fail(section, key, `"${text}" is not a whole number in ${min}..${max}`);
      return fallback;
    }
    return Number(text);
  };
  const boolean = (section: string, key: string, fallback: boolean) => {
    const text = raw(section, key, String(fallback)).toLowerCase();
    if (["true", "yes", "on", "1"].includes(text)) return true;
    if (["false", "no", "off", "0"].includes(text)) return false;
    fail(section, key, `"${text}" is not true or false`);
    return fallback;
  };
  // Durations: `10s`, `500ms`, `2m`, or a bare number of seconds; in ms.
  const duration = (section: string, key: string, fallback: string) => {
    const text = raw(section, key, fallback);
    const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
    if (!m) {
      fail(section, key, `"${text}" is not a duration (e.g. 10s, 500ms, 2m)`);
      return 0;
    }
    const n = Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "m" ? 60_000 : 1000);
    if (n > 86_400_000) fail(section, key, `${text} is longer than a day`);
    return Math.round(n);
  };
  const endpoint = (section: string, key: string) => {
    const text = raw(section, key, "");
    if (text !== "" && !/^tcp:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(text)) {
      fail(section, key, `"${text}" is not a tcp://host:port endpoint`);
    }
    return text;
  };

  known("proxy", PROXY_KEYS);
  let trusted: IpSet | undefined;
  const trustedText = raw("proxy", "trusted_proxies", "");
  if (trustedText !== "") {
    const entries = trustedText.split(",").map((s) => s.trim()).filter((s) => s !== "");
    try {
      trusted = IpSet.from(entries, (i) => `entry ${i + 1}`);
    } catch (error) {
      fail("proxy", "trusted_proxies", (error as Error).message);
    }
  }
  const api = raw("proxy", "api", "");
  if (api !== "" && !parseHostPort(api)) fail("proxy", "api", `"${api}" is not host:port`);
  const bansApi = raw("proxy", "bans_api", "");
  if (bansApi !== "" && !/^https?:\/\/[^\s/]+\/?$/.test(bansApi)) {
    fail("proxy", "bans_api", `"${bansApi}" is not an http://host:port URL`);
  }
  const domain = integer("proxy", "domain", 8984, 0, 0xffffffff);
  const out: ProxySettings = {
    enabled: boolean("proxy", "enabled", false),
    domain,
    trusted,
    banStatus: integer("proxy", "ban_status", 403, 200, 599),
    banRules: raw("proxy", "ban_rules", "").split(",").map((s) => s.trim()).filter((s) => s !== ""),
    bansFrom: endpoint("proxy", "bans_from"),
    bansApi,
    recordsTo: endpoint("proxy", "records_to"),
    api,
    limits: {
      headerTimeoutMs: duration("proxy", "header_timeout", "10s"),
      bodyTimeoutMs: duration("proxy", "body_timeout", "60s"),
      idleTimeoutMs: duration("proxy", "idle_timeout", "75s"),
      sendTimeoutMs: duration("proxy", "send_timeout", "60s"),
      connectTimeoutMs: duration("proxy", "connect_timeout", "5s"),
      upstreamTimeoutMs: duration("proxy", "upstream_timeout", "60s"),
      tunnelIdleMs: duration("proxy", "tunnel_idle_timeout", "600s"),
      maxHeaderBytes: integer("proxy", "max_header_bytes", 16384, 1024, 1 << 20),
      maxConnsPerIp: integer("proxy", "max_conns_per_ip", 256, 0, 1_000_000),
      retries: integer("proxy", "retries", 2, 0, 16),
    },
    listeners: [],
    pools: new Map(),
  };

  for (const section of Object.keys(sections).sort()) {
    if (section === "proxy") continue;
    const m = /^proxy:(http|tcp|pool):([A-Za-z0-9_-]{1,64})$/.exec(section);
    if (!m) {
      fail(
        section,
        "(section)",
        "not [proxy:http:<name>], [proxy:tcp:<name>] or [proxy:pool:<name>]",
      );
      continue;
    }
    const [, kind, name] = m as unknown as [string, "http" | "tcp" | "pool", string];
    if (kind === "pool") {
      known(section, POOL_KEYS);
      out.pools.set(name, poolOptions(name, section, raw, fail, integer, duration));
      continue;
    }
    known(section, LISTENER_KEYS);
    const listenText = raw(section, "listen", "");
    const at = parseHostPort(listenText);
    if (!at) fail(section, "listen", `"${listenText}" is not host:port`);
    const pp = raw(section, "upstream_proxy_protocol", "off");
    if (!["off", "v1", "v2"].includes(pp)) {
      fail(section, "upstream_proxy_protocol", `"${pp}" is not off, v1 or v2`);
    }
    const tlsCert = raw(section, "tls_cert", "");
    const tlsKey = raw(section, "tls_key", "");
    if ((tlsCert === "") !== (tlsKey === "")) {
      fail(section, tlsCert === "" ? "tls_cert" : "tls_key", "tls_cert and tls_key go together");
    }
    if (kind === "tcp" && tlsCert !== "") {
      fail(section, "tls_cert", "TLS termination is for HTTP listeners");
    }
    out.listeners.push({
      kind,
      name,
      hostname: at?.hostname ?? "",
      port: at?.port ?? 0,
      pool: raw(section, "pool", name),
      domain: integer(section, "domain", domain, 0, 0xffffffff),
      proxyProtocol: boolean(section, "proxy_protocol", false),
      upstreamProxyProtocol: pp === "v1" ? 1 : pp === "v2" ? 2 : 0,
      tlsCert,
      tlsKey,
    });
  }
  for (const l of out.listeners) {
    if (!out.pools.has(l.pool)) {
      fail(`proxy:${l.kind}:${l.name}`, "pool", `no [proxy:pool:${l.pool}] section`);
    }
  }
  if (out.enabled && out.listeners.length === 0) {
    fail("proxy", "enabled", "no [proxy:http:<name>] or [proxy:tcp:<name>] listener");
  }
  const errors = problems.some((p) => p.severity === "error");
  return { settings: errors ? undefined : out, problems };
}

/**
 * One pool's INI keys as the options object of the pool contract. `servers` is a comma list of
 * `host:port [weight=N] [max_conns=N]`; `health` is `http`, `tcp` or `off`.
 */
function poolOptions(
  name: string,
  section: string,
  raw: (section: string, key: string, fallback: string) => string,
  fail: (section: string, key: string, message: string) => void,
  integer: (section: string, key: string, fallback: number, min: number, max: number) => number,
  duration: (section: string, key: string, fallback: string) => number,
): Record<string, unknown> {
  const servers: Record<string, unknown>[] = [];
  for (const item of raw(section, "servers", "").split(",").map((s) => s.trim())) {
    if (item === "") continue;
    const [address, ...params] = item.split(/\s+/);
    const server: Record<string, unknown> = { address };
    if (!parseHostPort(address!)) fail(section, "servers", `"${address}" is not host:port`);
    for (const p of params) {
      const m = /^(weight|max_conns)=(\d{1,6})$/.exec(p);
      if (!m) {
        fail(section, "servers", `"${p}" after ${address} is not weight=N or max_conns=N`);
        continue;
      }
      server[m[1] === "weight" ? "weight" : "maxConns"] = Number(m[2]);
    }
    servers.push(server);
  }
  if (servers.length === 0) fail(section, "servers", "needs at least one host:port");
  const options: Record<string, unknown> = {
    name,
    balance: raw(section, "balance", "round_robin"),
    servers,
  };
  const health = raw(section, "health", "off");
  if (health === "http" || health === "tcp") {
    const status = raw(section, "health_status", "200-399");
    const sm = /^(\d{3})-(\d{3})$/.exec(status);
    if (!sm) fail(section, "health_status", `"${status}" is not a range like 200-399`);
    options.health = {
      kind: health,
      ...(health === "http"
        ? {
          path: raw(section, "health_path", "/"),
          expectStatus: sm ? [Number(sm[1]), Number(sm[2])] : [200, 399],
        }
        : {}),
      intervalMs: duration(section, "health_interval", "2s"),
      timeoutMs: duration(section, "health_timeout", "1s"),
      rise: integer(section, "health_rise", 2, 1, 100),
      fall: integer(section, "health_fall", 2, 1, 100),
    };
  } else if (health !== "off") {
    fail(section, "health", `"${health}" is not http, tcp or off`);
  }
  options.passive = {
    maxFails: integer(section, "max_fails", 3, 0, 1000),
    failTimeoutMs: duration(section, "fail_timeout", "10s"),
  };
  return options;
}
