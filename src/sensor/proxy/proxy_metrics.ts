import type { Metrics } from "../../shared/metrics/metrics.ts";
import type { PoolSnapshot } from "./upstream_picker.ts";

type Counter = { value: number };

/**
 * The proxy's counters in the process's `/metrics` registry: every refusal, timeout, bad
 * request and upstream failure is one of these, labelled by listener (nothing dropped in
 * silence). Handles are made once per label set, so the hot path is a field update.
 */
export class ProxyMetrics {
  readonly metrics: Metrics;
  readonly #cache = new Map<string, Counter>();
  /** Per listener, its request counters by status class (the per-request path). */
  readonly #requests = new Map<string, Counter[]>();

  constructor(metrics: Metrics) {
    this.metrics = metrics;
  }

  #counter(name: string, help: string, labels: Record<string, string>): Counter {
    const key = `${name}|${Object.values(labels).join("|")}`;
    let c = this.#cache.get(key);
    if (!c) {
      c = this.metrics.counter(name, help, labels);
      this.#cache.set(key, c);
    }
    return c;
  }

  /** A client connection accepted. */
  connection(listener: string): void {
    this.#counter("qts_proxy_connections_total", "Client connections accepted", { listener })
      .value++;
  }

  /** A proxied HTTP request answered, by status class. */
  request(listener: string, status: number): void {
    let byClass = this.#requests.get(listener);
    if (!byClass) {
      byClass = [];
      this.#requests.set(listener, byClass);
    }
    const c = Math.min(9, Math.max(0, Math.floor(status / 100)));
    (byClass[c] ??= this.#counter(
      "qts_proxy_requests_total",
      "HTTP requests answered, by status class",
      { listener, class: `${c}xx` },
    )).value++;
  }

  /** A client refused: `banned`, `per_ip_limit`, `proxy_protocol`, `no_upstream`. */
  refused(listener: string, reason: string): void {
    this.#counter("qts_proxy_refused_total", "Clients refused, by reason", { listener, reason })
      .value++;
  }

  /** A request head or body refused (`bad_header`, `te_and_cl`, `header_too_large`, …). */
  rejected(listener: string, reason: string): void {
    this.#counter("qts_proxy_bad_requests_total", "Requests refused as malformed, by reason", {
      listener,
      reason,
    }).value++;
  }

  /** A time limit hit: `header`, `body`, `idle`, `send`, `connect`, `upstream`. */
  timeout(listener: string, kind: string): void {
    this.#counter("qts_proxy_timeouts_total", "Connections closed by a time limit, by limit", {
      listener,
      kind,
    }).value++;
  }

  /** An upstream failed: `connect`, `reset`, `bad_response`, `timeout`. */
  upstreamError(listener: string, upstream: string, kind: string): void {
    this.#counter("qts_proxy_upstream_errors_total", "Upstream failures, by kind", {
      listener,
      upstream,
      kind,
    }).value++;
  }

  /** A request sent to another upstream after a failure. */
  retry(listener: string): void {
    this.#counter("qts_proxy_retries_total", "Requests retried on another upstream", { listener })
      .value++;
  }

  /** A client connection that ended badly (`client_error`, `body_error`). */
  aborted(listener: string, reason: string): void {
    this.#counter("qts_proxy_aborted_total", "Exchanges cut off mid-way, by reason", {
      listener,
      reason,
    }).value++;
  }

  /** Bytes moved: `in` from clients, `out` to clients. */
  bytes(listener: string, direction: "in" | "out", n: number): void {
    this.#counter("qts_proxy_bytes_total", "Client bytes through the proxy, by direction", {
      listener,
      direction,
    }).value += n;
  }

  /** WebSocket upgrades and TCP tunnels that ended, by how. */
  tunnel(listener: string, end: string): void {
    this.#counter("qts_proxy_tunnels_total", "Byte tunnels ended (WebSocket, TCP), by how", {
      listener,
      end,
    }).value++;
  }

  /** Records handed to the sensor, and those it could not take. */
  record(listener: string, ok: boolean): void {
    this.#counter("qts_proxy_records_total", "Records fed to the sensor, by result", {
      listener,
      result: ok ? "ok" : "failed",
    }).value++;
  }

  /**
   * What the pools' own series do not say, from their snapshots: each upstream's recent
   * failures (passive checks) and weight. Health and active connections the pool exports.
   */
  pools(snapshots: readonly PoolSnapshot[]): void {
    const m = this.metrics;
    for (const pool of snapshots) {
      for (const u of pool.upstreams) {
        const labels = { pool: pool.name, upstream: u.address };
        m.set(
          "qts_proxy_upstream_fails",
          "Recent failures of the upstream (passive checks)",
          labels,
          u.fails,
        );
        m.set("qts_proxy_upstream_weight", "The upstream's balancing weight", labels, u.weight);
      }
    }
  }
}
