import type { Logger } from "../../shared/log/logger.ts";
import type { Metrics } from "../../shared/metrics/metrics.ts";
import type { HttpRecord } from "../wire/record.ts";
import { ClientRegistry } from "./client_registry.ts";
import { HttpProxy } from "./http_proxy.ts";
import { ProxyBanList } from "./proxy_ban_list.ts";
import type { ProxyContext } from "./proxy_context.ts";
import { ProxyMetrics } from "./proxy_metrics.ts";
import type { ProxySettings } from "./proxy_settings.ts";
import { TcpProxy } from "./tcp_proxy.ts";
import type { PoolSnapshot, UpstreamPicker } from "./upstream_picker.ts";

// How long start() waits for a remote sensor's bans before listening anyway.
const FIRST_SYNC_MS = 5_000;

/** Options of {@linkcode ProxyServer}. */
export interface ProxyServerOptions {
  settings: ProxySettings;
  metrics: Metrics;
  log: Logger;
  /** Makes a pool from its options (`ProxySettings.pools`); `where` names it in errors. */
  createPool: (options: Record<string, unknown>, where: string) => UpstreamPicker;
  /** Where records go; none = not observed. */
  submit?: ((domain: number, record: HttpRecord) => void) | undefined;
  /** The bans to enforce; default a list of its own (fed by `bans_from`, if set). */
  bans?: ProxyBanList;
}

/** The state of the proxy for the API: listeners, pools, open connections, bans held. */
export interface ProxyStatus {
  listeners: { name: string; kind: string; address: string; pool: string }[];
  pools: PoolSnapshot[];
  connections: number;
  bans: number;
}

/**
 * `qts proxy`: every listener of the `[proxy]` settings over its pool, sharing one ban list,
 * one client registry (per-IP limit, closing connections of newly banned IPs) and the
 * process's metrics. Runs alone (`qts proxy`) or inside `qts serve`.
 */
export class ProxyServer {
  readonly bans: ProxyBanList;
  readonly listeners: (HttpProxy | TcpProxy)[] = [];
  readonly pools = new Map<string, UpstreamPicker>();
  readonly #o: ProxyServerOptions;
  readonly #ctx: ProxyContext;
  readonly #registry: ClientRegistry;

  /** Throws (TypeError, naming the pool) when a pool's options are invalid. */
  constructor(options: ProxyServerOptions) {
    this.#o = options;
    const s = options.settings;
    this.bans = options.bans ?? new ProxyBanList({ rules: s.banRules });
    this.#registry = new ClientRegistry(s.limits.maxConnsPerIp);
    const metrics = new ProxyMetrics(options.metrics);
    this.#ctx = {
      limits: s.limits,
      bans: this.bans,
      registry: this.#registry,
      metrics,
      log: options.log,
      trusted: s.trusted,
      banStatus: s.banStatus,
      submit: options.submit,
    };
    this.bans.onBan((ip) => {
      const closed = this.#registry.closeBanned(ip);
      if (closed > 0) {
        options.log.limited("proxy-ban-close", "info", "closed connections of a banned client", {
          ip,
          closed,
        });
      }
    });
    for (const [name, raw] of s.pools) {
      this.pools.set(name, options.createPool(raw, `[proxy:pool:${name}]`));
    }
    for (const l of s.listeners) {
      const pool = this.pools.get(l.pool)!;
      this.listeners.push(
        l.kind === "http" ? new HttpProxy(l, this.#ctx, pool) : new TcpProxy(l, this.#ctx, pool),
      );
    }
    options.metrics.collect(() => {
      metrics.pools(this.status().pools);
      const m = options.metrics;
      m.set("qts_proxy_open_connections", "Client connections open now", {}, this.#registry.open);
      m.set("qts_proxy_bans_enforced", "Bans the proxy enforces now", {}, this.bans.size);
      m.counter("qts_proxy_closed_by_ban_total", "Open connections closed when their IP was banned")
        .value = this.#registry.stats.closed_by_ban;
      m.counter("qts_proxy_ban_commands_total", "Ban commands the proxy took, by result", {
        result: "applied",
      }).value = this.bans.stats.applied;
      m.counter("qts_proxy_ban_commands_total", "Ban commands the proxy took, by result", {
        result: "invalid",
      }).value = this.bans.stats.invalid;
      m.counter("qts_proxy_ban_commands_total", "Ban commands the proxy took, by result", {
        result: "ignored",
      }).value = this.bans.stats.ignored;
      const resyncs = "Loads of a remote sensor's active bans (GET /bans), by result";
      m.counter("qts_proxy_ban_resyncs_total", resyncs, { result: "ok" }).value =
        this.bans.stats.resyncs;
      m.counter("qts_proxy_ban_resyncs_total", resyncs, { result: "failed" }).value =
        this.bans.stats.resync_failures;
    });
  }

  /** Starts the pools' health checks, follows a remote sensor's bans if set, binds listeners. */
  async start(): Promise<void> {
    const s = this.#o.settings;
    for (const pool of this.pools.values()) pool.start();
    if (s.bansFrom !== "") await this.#firstBans(s.bansFrom, s.bansApi);
    try {
      for (const l of this.listeners) await l.start();
    } catch (error) {
      await this.close();
      throw error;
    }
    this.#o.log.log("info", "qts proxy listening", {
      listeners: this.listeners.map((l) => `${l.config.kind}:${l.config.name}=${addr(l)}`),
    });
  }

  /**
   * Follows the remote sensor and waits (at most FIRST_SYNC_MS) for its active bans, so a
   * restarted proxy does not let a banned client in before the first resync.
   */
  async #firstBans(from: string, api: string): Promise<void> {
    const loaded = this.bans.follow(from, api);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), FIRST_SYNC_MS);
    });
    const result = await Promise.race([loaded, late]);
    clearTimeout(timer);
    const log = this.#o.log;
    if (result === true) {
      if (api !== "") log.log("info", "bans loaded from the sensor", { api, bans: this.bans.size });
    } else {
      log.log("warn", "listening before the sensor's bans could be loaded; retrying", {
        api,
        reason: result === "late" ? `no answer in ${FIRST_SYNC_MS} ms` : "GET /bans failed",
      });
    }
  }

  /** The proxy's state (`GET /proxy`). */
  status(): ProxyStatus {
    return {
      listeners: this.listeners.map((l) => ({
        name: l.config.name,
        kind: l.config.kind,
        address: addr(l),
        pool: l.config.pool,
      })),
      pools: [...this.pools.values()].map((p) => p.snapshot()),
      connections: this.#registry.open,
      bans: this.bans.size,
    };
  }

  /** Closes listeners (waiting for open exchanges), pools and the ban feed. */
  async close(): Promise<void> {
    const closing = Promise.all(this.listeners.map((l) => l.close()));
    this.#registry.closeAll();
    await closing;
    await Promise.all([...this.pools.values()].map((p) => p.stop()));
    if (!this.#o.bans) await this.bans.close();
  }
}

function addr(l: HttpProxy | TcpProxy): string {
  const a = l.addr;
  if (!a) return "";
  return `${a.hostname.includes(":") ? `[${a.hostname}]` : a.hostname}:${a.port}`;
}
