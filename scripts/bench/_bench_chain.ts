/**
 * The filters bench's records and chains: the shipped default configuration (embedded
 * default.conf) built into a real {@linkcode DomainChain} by the sensor's own builders, so the
 * bench measures what `qts serve` runs. Shared by `filters_bench.ts` and `_ip_memory.ts`.
 */
import { ConfigStore } from "../../src/shared/config/config_store.ts";
import type { DomainConfig } from "../../src/shared/config/components.ts";
import { loadSettings } from "../../src/shared/config/settings.ts";
import { silentLogger } from "../../src/shared/log/logger.ts";
import { componentKey, DomainChain } from "../../src/sensor/filters/domain_chain.ts";
import { HttpStats } from "../../src/sensor/filters/statstore_http_stats.ts";
import type { RequestContext } from "../../src/sensor/filters/types.ts";
import { chainBuilders, type FilterEnv } from "../../src/sensor/ingest/chain_builders.ts";
import { chainObservers } from "../../src/sensor/ingest/chain_observers.ts";
import { emptyRecord, type HttpRecord } from "../../src/sensor/wire/mod.ts";
import { clientAddress } from "../../src/sensor/wire/record.ts";

/** Domain id of the bench's chains. */
export const DOMAIN = 8984;

const UAS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.0 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  "curl/8.5.0",
  "python-requests/2.31.0",
  "",
];
const METHODS = ["GET", "GET", "GET", "GET", "POST", "HEAD", "GET", "PROPFIND"];
const STATUSES = [200, 200, 200, 304, 200, 404, 200, 200, 301, 200, 403, 200];

/**
 * Record `i` of the bench stream: a complete request (req_type 1, with its status), as a log
 * line or the after-upstream half is, so every filter of the chain has its work: 50,000
 * clients, 5,000 pages and static files, eight User-Agents (some with a per-client suffix),
 * health checks, a few login POSTs and non-standard methods.
 */
export function sample(i: number): HttpRecord {
  const page = i % 5000;
  const url = i % 97 === 0
    ? "/healthz"
    : i % 11 === 0
    ? `/static/app.${page % 40}.js`
    : i % 53 === 0
    ? "/login"
    : `/catalog/item/${page}?ref=home`;
  const method = METHODS[i % METHODS.length]!;
  return {
    ...emptyRecord(),
    req_type: 1,
    status: STATUSES[i % STATUSES.length]!,
    timestamp: 1_700_000_000 + (i >> 10),
    // Public sources (11/8): a private one is flagged private_source and skips the detectors.
    remote_ip: (0x0b000000 + ((i * 7919) % 50_000)) >>> 0,
    geo: "US",
    method,
    url,
    version: "HTTP/1.1",
    referer: "https://example.com/",
    host: "example.com",
    accept: "text/html",
    accept_encoding: "gzip, deflate, br",
    cookie: "session=0123456789abcdef; theme=dark",
    http_user_agent: UAS[(i >> 3) % UAS.length]! + (i % 13 === 0 ? ` r${i % 400}` : ""),
    request: `${method} ${url} HTTP/1.1`,
    qrator_request_id: `req${i}`,
    server_port: "443",
    remote_port: String(30000 + (i % 30000)),
    headers: "Accept: text/html\r\nAccept-Encoding: gzip, deflate, br\r\nConnection: keep-alive",
  };
}

/** A fresh first-phase request context, as the ingest side makes one per record. */
export function context(record: HttpRecord, now: number): RequestContext {
  return {
    domainId: DOMAIN,
    ip: clientAddress(record),
    now,
    phase: "first",
    flags: new Map(),
    events: [],
  };
}

/**
 * The embedded global configuration (default.conf), optionally changed by `change`; `files`
 * (Lua scripts, lists) are written to a temporary components_config_dir.
 */
export function defaultConfig(
  change?: (config: DomainConfig) => DomainConfig,
  files: Record<string, string> = {},
): {
  global: DomainConfig;
  config: DomainConfig;
  env: FilterEnv;
} {
  const settings = loadSettings("", "bench");
  settings.geoip_db = "";
  if (Object.keys(files).length > 0) {
    const dir = Deno.makeTempDirSync({ prefix: "qts-bench-" });
    for (const [name, text] of Object.entries(files)) {
      Deno.writeTextFileSync(`${dir}/${name}`, text);
    }
    settings.components_config_dir = dir;
  }
  const global = new ConfigStore(settings).global;
  const config = change ? change(structuredClone(global)) : global;
  const env: FilterEnv = {
    settings,
    global: () => global,
    log: silentLogger,
    stats: new HttpStats(),
    offline: true,
  };
  return { global, config, env };
}

/** The default chain of one domain, built as the sensor builds it. */
export async function defaultChain(
  change?: (config: DomainConfig) => DomainConfig,
  files: Record<string, string> = {},
): Promise<DomainChain> {
  const { global, config, env } = defaultConfig(change, files);
  const chain = new DomainChain(DOMAIN, chainBuilders(env), chainObservers(env));
  await chain.configure(config, componentKey(config, global));
  return chain;
}

/** Every component of default.conf on, request_hash_score included (shipped off). */
export function everyFilter(config: DomainConfig): DomainConfig {
  config.request_hash_score.enabled = true;
  return config;
}
