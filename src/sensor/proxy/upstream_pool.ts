/**
 * Balancing of clean traffic over one pool of upstream servers: smooth weighted round robin,
 * least connections and consistent hashing on the client address; per-upstream connection
 * limits; active health checks (HTTP status or TCP connect) and passive ejection on errors with
 * nginx's `max_fails`/`fail_timeout` semantics. The proxy asks {@linkcode UpstreamPool.pick} for
 * an upstream, accounts the connection with `acquire`/`release` and reports how it went.
 * @module
 */
import { ConfigError, type Schema, validate } from "../../shared/config/schema.ts";
import { type Logger, silentLogger } from "../../shared/log/logger.ts";
import type { Metrics } from "../../shared/metrics/metrics.ts";
import { sourceOf } from "../../shared/net/ip.ts";
import type { Clock } from "../lm/list_manager.ts";
import { HashRing, ringHash } from "./_hash_ring.ts";
import { type ProbeOutcome, type ProbeSpec, probeUpstream } from "./_health_probe.ts";
import { parseUpstreamAddress } from "./_upstream_address.ts";

/** One server of a pool as configured. */
export interface UpstreamServer {
  /** `host:port` or `[v6]:port`. */
  address: string;
  /** Share of traffic relative to the others (ring points for `hash_ip`); default 1. */
  weight?: number;
  /** Most connections at once; a full upstream is skipped. Unlimited when absent. */
  maxConns?: number;
}

/** Active health checks of a pool. */
export interface HealthCheckOptions {
  /** `http`: GET `path`, the status must fall in `expectStatus`; `tcp`: a connect suffices. */
  kind: "http" | "tcp";
  /** Request path of an HTTP check; default `/`. */
  path?: string;
  /** Pause between the end of one check of an upstream and the start of the next. */
  intervalMs: number;
  /** A check not done by then (connect, request, status line) fails as `timeout`. */
  timeoutMs: number;
  /** Accepted status range, both ends included; default [200, 399]. */
  expectStatus?: [number, number];
  /** Consecutive passed checks that bring a down upstream back. */
  rise: number;
  /** Consecutive failed checks that take an up upstream down. */
  fall: number;
}

/** Passive ejection, as nginx's `max_fails` and `fail_timeout` (default 1 and 10 s). */
export interface PassiveOptions {
  /** Failures within `failTimeoutMs` that take an upstream out; 0 disables ejection. */
  maxFails: number;
  /** The window failures are counted in, and how long an ejected upstream stays out. */
  failTimeoutMs: number;
}

/** A pool's configuration; {@linkcode validatePoolOptions} checks one read from a file. */
export interface UpstreamPoolOptions {
  /** Names the pool in metrics, logs and the API. */
  name: string;
  balance: "round_robin" | "least_conn" | "hash_ip";
  servers: UpstreamServer[];
  health?: HealthCheckOptions;
  passive?: PassiveOptions;
}

/** An upstream as the proxy sees it: where to connect and how many connections it has now. */
export interface Upstream {
  readonly address: string;
  /** Host name or IP for `Deno.connect` (an IPv6 address without brackets). */
  readonly hostname: string;
  readonly port: number;
  /** Connections acquired and not yet released. */
  readonly active: number;
}

/** One finished active check, for `deps.onHealthCheck` (tests wait on it; a UI may show it). */
export interface HealthCheckEvent {
  upstream: Upstream;
  outcome: ProbeOutcome;
  detail: string;
  /** The upstream's health by active checks after this one. */
  healthy: boolean;
  /** Whether this check flipped `healthy`. */
  changed: boolean;
}

/** What a pool uses from its surroundings; all optional. */
export interface UpstreamPoolDeps {
  /** Time of the passive-ejection windows; wall clock by default. */
  clock?: Clock;
  metrics?: Metrics;
  log?: Logger;
  /** Called after every active check. */
  onHealthCheck?: (event: HealthCheckEvent) => void;
}

/** One upstream in {@linkcode UpstreamPool.snapshot}. */
export interface UpstreamSnapshot {
  address: string;
  /** Pickable now as far as health goes: up by active checks and not passively ejected. */
  healthy: boolean;
  active: number;
  /** Failures counted towards passive ejection. */
  fails: number;
  weight: number;
  /** Out for now by passive ejection. */
  ejected: boolean;
  /** Health by active checks; "off" without them. */
  check: "up" | "down" | "off";
  /** The last active check's outcome, e.g. "status 503 outside 200-399"; null before any. */
  lastCheck: string | null;
  maxConns: number | null;
}

/** A pool's state for the API. */
export interface PoolSnapshot {
  name: string;
  balance: string;
  upstreams: UpstreamSnapshot[];
}

/** Why a pick found nothing: all tried (`exclude`), none up, or every up one at `maxConns`. */
type NoUpstreamReason = "tried" | "down" | "full";

const DEFAULT_PASSIVE: PassiveOptions = { maxFails: 1, failTimeoutMs: 10_000 };

class Member implements Upstream {
  active = 0;
  // Smooth weighted round robin (nginx): the running score and the weight failures lower.
  current = 0;
  effective: number;
  // Passive ejection (nginx): failures, time of the last one, and of the last failure or of the
  // pick that let the upstream try again after its window.
  fails = 0;
  accessed = 0;
  checked = 0;
  /** Counted as ejected (so in-flight failures after the ejection do not count again). */
  ejected = false;
  // Active checks.
  up = true;
  passedRun = 0;
  failedRun = 0;
  lastCheck: string | null = null;
  timer: ReturnType<typeof setTimeout> | undefined;
  inflight: Promise<void> | undefined;

  constructor(
    readonly index: number,
    readonly address: string,
    readonly hostname: string,
    readonly port: number,
    readonly weight: number,
    readonly maxConns: number,
    readonly picks: { value: number },
    readonly failures: { value: number },
    readonly ejections: { value: number },
  ) {
    this.effective = weight;
  }
}

/**
 * The upstreams of one pool and the choice among them. Single-threaded by design: call
 * {@linkcode UpstreamPool.acquire} right after `pick`, before any `await`, so two picks never
 * pass the same upstream's `maxConns`.
 *
 * @example
 * ```ts
 * const pool = new UpstreamPool({
 *   name: "web",
 *   balance: "least_conn",
 *   servers: [{ address: "127.0.0.1:8081" }, { address: "127.0.0.1:8082", weight: 2 }],
 * });
 * const upstream = pool.pick("203.0.113.7");
 * if (upstream) {
 *   pool.acquire(upstream);
 *   // … connect to upstream.hostname:upstream.port, proxy, then:
 *   pool.reportSuccess(upstream);
 *   pool.release(upstream);
 * }
 * ```
 */
export class UpstreamPool {
  readonly #options: UpstreamPoolOptions;
  readonly #members: Member[];
  readonly #passive: PassiveOptions;
  readonly #probe: ProbeSpec | undefined;
  readonly #ring: HashRing | undefined;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #metrics: Metrics | undefined;
  readonly #onHealthCheck: ((event: HealthCheckEvent) => void) | undefined;
  readonly #none: Record<NoUpstreamReason, { value: number }>;
  readonly #ejectionsIgnored: { value: number };
  readonly #accountingErrors: { value: number };
  #stopper: AbortController | undefined;

  /** Throws a {@linkcode ConfigError} for options {@linkcode validatePoolOptions} rejects. */
  constructor(options: UpstreamPoolOptions, deps: UpstreamPoolDeps = {}) {
    const o = validatePoolOptions(options, `upstream pool "${options?.name}"`);
    this.#options = o;
    this.#passive = o.passive ?? DEFAULT_PASSIVE;
    this.#clock = deps.clock ?? Date;
    this.#log = deps.log ?? silentLogger;
    this.#metrics = deps.metrics;
    this.#onHealthCheck = deps.onHealthCheck;
    const pool = { pool: o.name };
    const counter = (name: string, help: string, labels: Record<string, string>) =>
      deps.metrics?.counter(name, help, labels) ?? { value: 0 };
    this.#members = o.servers.map((s, i) => {
      const { hostname, port } = parseUpstreamAddress(s.address);
      const labels = { pool: o.name, upstream: s.address };
      return new Member(
        i,
        s.address,
        hostname,
        port,
        s.weight ?? 1,
        s.maxConns ?? Infinity,
        counter("qts_proxy_upstream_picks_total", "Times an upstream was picked.", labels),
        counter(
          "qts_proxy_upstream_failures_total",
          "Failures the proxy reported for an upstream (connect errors, bad responses).",
          labels,
        ),
        counter(
          "qts_proxy_upstream_ejections_total",
          "Times an upstream was taken out by passive ejection (max_fails within fail_timeout).",
          labels,
        ),
      );
    });
    const noneHelp = "Picks that found no upstream (tried: all excluded, down: none healthy, " +
      "full: every healthy one at maxConns); the proxy answers 502/503.";
    this.#none = {
      tried: counter("qts_proxy_pool_no_upstream_total", noneHelp, { ...pool, reason: "tried" }),
      down: counter("qts_proxy_pool_no_upstream_total", noneHelp, { ...pool, reason: "down" }),
      full: counter("qts_proxy_pool_no_upstream_total", noneHelp, { ...pool, reason: "full" }),
    };
    this.#ejectionsIgnored = counter(
      "qts_proxy_pool_ejections_ignored_total",
      "Picks made while every healthy upstream was passively ejected, ignoring the ejection.",
      pool,
    );
    this.#accountingErrors = counter(
      "qts_proxy_pool_accounting_errors_total",
      "release() without a matching acquire(): a proxy bug, the count stayed at 0.",
      pool,
    );
    if (o.balance === "hash_ip") {
      this.#ring = new HashRing(this.#members.map((m) => ({ key: m.address, weight: m.weight })));
    }
    const h = o.health;
    if (h) {
      this.#probe = {
        kind: h.kind,
        path: h.path ?? "/",
        timeoutMs: h.timeoutMs,
        expectStatus: h.expectStatus ?? [200, 399],
      };
    }
    if (deps.metrics) {
      // A WeakRef, so a pool replaced by a reload is not kept alive by the registry.
      const ref = new WeakRef(this);
      deps.metrics.collect(() => {
        const pool = ref.deref();
        if (pool) pool.#publishGauges();
      });
    }
  }

  /** The pool's name. */
  get name(): string {
    return this.#options.name;
  }

  /** The pool's upstreams in configuration order. */
  get upstreams(): readonly Upstream[] {
    return this.#members;
  }

  /**
   * An upstream for a connection from `clientIp`: up by active checks, not passively ejected,
   * under its `maxConns`, not in `exclude` (those already tried for this request), chosen by
   * the pool's balance. When every such upstream is passively ejected, the ejection is ignored
   * (counted) rather than refusing everyone: errors alone never empty a pool, as nginx never
   * ejects a lone server. Undefined (counted by reason) when nothing is left.
   */
  pick(clientIp: string, exclude?: ReadonlySet<Upstream>): Upstream | undefined {
    const now = this.#clock.now();
    let chosen = this.#choose(clientIp, exclude, now, false);
    if (!chosen && this.#passive.maxFails > 0) {
      chosen = this.#choose(clientIp, exclude, now, true);
      if (chosen) this.#ejectionsIgnored.value++;
    }
    if (!chosen) {
      const reason = this.#noneReason(exclude);
      this.#none[reason].value++;
      this.#log.limited(`upstream_pool:${this.#options.name}:none`, "warn", "no upstream", {
        pool: this.#options.name,
        reason,
      });
      return undefined;
    }
    // nginx: a pick after the window lets an ejected upstream try again; a success then clears
    // its failures, a failure ejects it for another window.
    if (now - chosen.checked > this.#passive.failTimeoutMs) {
      chosen.checked = now;
      chosen.ejected = false;
    }
    chosen.picks.value++;
    return chosen;
  }

  /** Counts a connection to `u` as open (least_conn, maxConns). */
  acquire(u: Upstream): void {
    this.#member(u).active++;
  }

  /** Counts a connection to `u` as closed. */
  release(u: Upstream): void {
    const m = this.#member(u);
    if (m.active > 0) {
      m.active--;
      return;
    }
    this.#accountingErrors.value++;
    this.#log.limited(
      `upstream_pool:${this.#options.name}:release`,
      "error",
      "release() without acquire()",
      { pool: this.#options.name, upstream: m.address },
    );
  }

  /**
   * Reports a failed attempt (connect error, timeout, invalid response). As nginx: `maxFails`
   * of them within `failTimeoutMs` take `u` out for `failTimeoutMs`; each lowers its round-robin
   * weight by weight/maxFails, regained one step per pick.
   */
  reportFailure(u: Upstream): void {
    const m = this.#member(u);
    m.failures.value++;
    const { maxFails } = this.#passive;
    if (maxFails === 0) return;
    const now = this.#clock.now();
    m.fails++;
    m.accessed = now;
    m.checked = now;
    m.effective = Math.max(0, m.effective - Math.floor(m.weight / maxFails));
    if (m.fails >= maxFails && !m.ejected) {
      m.ejected = true;
      m.ejections.value++;
      this.#log.limited(
        `upstream_pool:${this.#options.name}:${m.address}:eject`,
        "warn",
        "upstream ejected",
        {
          pool: this.#options.name,
          upstream: m.address,
          fails: m.fails,
          for_ms: this.#passive.failTimeoutMs,
        },
      );
    }
  }

  /**
   * Reports a successful attempt. As nginx, it clears the failures only when `u` was picked
   * after its last failure's window (so successes in between do not forgive failures that come
   * within `failTimeoutMs` of each other).
   */
  reportSuccess(u: Upstream): void {
    const m = this.#member(u);
    if (m.accessed < m.checked) {
      m.fails = 0;
      m.ejected = false;
    }
  }

  /** Starts the active health checks (none without `health`); the first round runs at once. */
  start(): void {
    if (!this.#probe || this.#stopper) return;
    this.#stopper = new AbortController();
    for (const m of this.#members) this.#schedule(m, 0);
  }

  /** Stops the active health checks; resolves once no timer or check socket is left. */
  async stop(): Promise<void> {
    const stopper = this.#stopper;
    if (!stopper) return;
    this.#stopper = undefined;
    stopper.abort();
    for (const m of this.#members) {
      clearTimeout(m.timer);
      m.timer = undefined;
    }
    await Promise.all(this.#members.map((m) => m.inflight));
  }

  /** The pool's state now, for the API. */
  snapshot(): PoolSnapshot {
    const now = this.#clock.now();
    return {
      name: this.#options.name,
      balance: this.#options.balance,
      upstreams: this.#members.map((m) => {
        const ejected = this.#ejected(m, now);
        return {
          address: m.address,
          healthy: m.up && !ejected,
          active: m.active,
          fails: m.fails,
          weight: m.weight,
          ejected,
          check: this.#probe ? (m.up ? "up" : "down") : "off",
          lastCheck: m.lastCheck,
          maxConns: Number.isFinite(m.maxConns) ? m.maxConns : null,
        };
      }),
    };
  }

  #member(u: Upstream): Member {
    const m = u instanceof Member ? this.#members[u.index] : undefined;
    if (m !== u || !m) {
      throw new TypeError(`upstream ${u?.address} is not in pool "${this.#options.name}"`);
    }
    return m;
  }

  #ejected(m: Member, now: number): boolean {
    const { maxFails, failTimeoutMs } = this.#passive;
    return maxFails > 0 && m.fails >= maxFails && now - m.checked <= failTimeoutMs;
  }

  #eligible(m: Member, exclude: ReadonlySet<Upstream> | undefined, now: number, any: boolean) {
    return m.up && m.active < m.maxConns && !exclude?.has(m) && (any || !this.#ejected(m, now));
  }

  #choose(
    clientIp: string,
    exclude: ReadonlySet<Upstream> | undefined,
    now: number,
    ignoreEjection: boolean,
  ): Member | undefined {
    const ok = (m: Member) => this.#eligible(m, exclude, now, ignoreEjection);
    switch (this.#options.balance) {
      case "round_robin":
        return this.#smoothWeighted(ok);
      case "least_conn":
        return this.#leastConn(ok);
      case "hash_ip": {
        const i = this.#ring!.find(ringHash(clientKey(clientIp)), (i) => ok(this.#members[i]!));
        return i < 0 ? undefined : this.#members[i];
      }
    }
  }

  // nginx's smooth weighted round robin: every candidate gains its effective weight, the highest
  // score wins and pays back the sum, so weights 5,1,1 give a a b a c a a, not a a a a a b c.
  #smoothWeighted(ok: (m: Member) => boolean): Member | undefined {
    let best: Member | undefined;
    let total = 0;
    for (const m of this.#members) {
      if (!ok(m)) continue;
      m.current += m.effective;
      total += m.effective;
      if (m.effective < m.weight) m.effective++;
      if (!best || m.current > best.current) best = m;
    }
    if (best) best.current -= total;
    return best;
  }

  // nginx's least_conn: the fewest active connections per unit of weight; several equal ones are
  // served in smooth weighted round robin among themselves.
  #leastConn(ok: (m: Member) => boolean): Member | undefined {
    let best: Member | undefined;
    let many = false;
    for (const m of this.#members) {
      if (!ok(m)) continue;
      if (!best || m.active * best.weight < best.active * m.weight) {
        best = m;
        many = false;
      } else if (m.active * best.weight === best.active * m.weight) many = true;
    }
    if (!best || !many) return best;
    const least = best;
    return this.#smoothWeighted((m) =>
      ok(m) && m.active * least.weight === least.active * m.weight
    );
  }

  #noneReason(exclude: ReadonlySet<Upstream> | undefined): NoUpstreamReason {
    let candidates = 0;
    let up = 0;
    for (const m of this.#members) {
      if (exclude?.has(m)) continue;
      candidates++;
      if (m.up) up++;
    }
    return candidates === 0 ? "tried" : up === 0 ? "down" : "full";
  }

  #schedule(m: Member, delayMs: number): void {
    m.timer = setTimeout(() => {
      m.timer = undefined;
      m.inflight = this.#check(m).finally(() => {
        m.inflight = undefined;
        if (this.#stopper) this.#schedule(m, this.#options.health!.intervalMs);
      });
    }, delayMs);
  }

  async #check(m: Member): Promise<void> {
    const stopper = this.#stopper;
    if (!stopper) return;
    const { outcome, detail } = await probeUpstream(m, this.#probe!, stopper.signal);
    if (stopper.signal.aborted) return; // stopped mid-check: not a result
    const { rise, fall } = this.#options.health!;
    const name = this.#options.name;
    this.#metrics?.inc(
      "qts_proxy_upstream_health_checks_total",
      "Active health checks by outcome (ok, status, timeout, refused, error).",
      { pool: name, upstream: m.address, result: outcome },
    );
    m.lastCheck = detail;
    let changed = false;
    if (outcome === "ok") {
      m.failedRun = 0;
      m.passedRun++;
      if (!m.up && m.passedRun >= rise) {
        m.up = changed = true;
        // Back by active checks: old passive failures no longer describe it.
        m.fails = 0;
        m.ejected = false;
        m.effective = m.weight;
        this.#log.log("info", "upstream up", { pool: name, upstream: m.address, detail });
      }
    } else {
      m.passedRun = 0;
      m.failedRun++;
      if (m.up && m.failedRun >= fall) {
        m.up = false;
        changed = true;
        this.#log.log("warn", "upstream down", { pool: name, upstream: m.address, detail });
      }
    }
    this.#onHealthCheck?.({ upstream: m, outcome, detail, healthy: m.up, changed });
  }

  #publishGauges(): void {
    const metrics = this.#metrics!;
    const name = this.#options.name;
    const now = this.#clock.now();
    let healthy = 0;
    let active = 0;
    for (const m of this.#members) {
      const up = m.up && !this.#ejected(m, now);
      if (up) healthy++;
      active += m.active;
      const labels = { pool: name, upstream: m.address };
      metrics.set(
        "qts_proxy_upstream_healthy",
        "1 when an upstream can be picked as far as health goes (active checks, passive ejection).",
        labels,
        up ? 1 : 0,
      );
      metrics.set(
        "qts_proxy_upstream_active",
        "Open connections to an upstream.",
        labels,
        m.active,
      );
    }
    metrics.set(
      "qts_proxy_pool_upstreams_healthy",
      "Upstreams of a pool that can be picked as far as health goes.",
      { pool: name },
      healthy,
    );
    metrics.set(
      "qts_proxy_pool_active",
      "Open connections to a pool's upstreams.",
      { pool: name },
      active,
    );
  }
}

/**
 * The key a client hashes by: an IPv4 address as is, an IPv6 address by its /64 (one host,
 * or one customer's network, however it rotates its interface id); anything else as given.
 */
function clientKey(ip: string): string {
  return sourceOf(ip, 64);
}

const SERVER_SCHEMA = {
  type: "object",
  required: ["address"],
  fields: {
    address: { type: "string" },
    weight: { type: "integer", min: 1, max: 100, default: 1 },
    maxConns: { type: "integer", min: 1, max: 1_000_000 },
  },
} as const satisfies Schema;

const POOL_SCHEMA = {
  type: "object",
  required: ["name", "servers"],
  fields: {
    name: {
      type: "string",
      pattern: /^[A-Za-z0-9_.-]{1,64}$/,
      patternHint: "1-64 letters, digits, _ . -",
    },
    balance: {
      type: "string",
      enum: ["round_robin", "least_conn", "hash_ip"],
      default: "round_robin",
    },
    servers: {
      type: "array",
      minItems: 1,
      maxItems: 1024,
      items: {
        type: "oneOf",
        hint: `"host:port" or { address, weight, maxConns }`,
        options: [{ type: "string" }, SERVER_SCHEMA],
      },
    },
    health: {
      type: "object",
      required: ["kind"],
      fields: {
        kind: { type: "string", enum: ["http", "tcp"] },
        path: { type: "string", pattern: /^\/[\x21-\x7e]*$/, patternHint: "a path like /health" },
        intervalMs: { type: "integer", min: 10, max: 3_600_000, default: 2_000 },
        timeoutMs: { type: "integer", min: 1, max: 600_000, default: 1_000 },
        expectStatus: {
          type: "array",
          items: { type: "integer", min: 100, max: 599 },
          minItems: 2,
          maxItems: 2,
        },
        rise: { type: "integer", min: 1, max: 100, default: 2 },
        fall: { type: "integer", min: 1, max: 100, default: 3 },
      },
    },
    passive: {
      type: "object",
      fields: {
        maxFails: { type: "integer", min: 0, max: 1_000, default: DEFAULT_PASSIVE.maxFails },
        failTimeoutMs: {
          type: "integer",
          min: 1,
          max: 86_400_000,
          default: DEFAULT_PASSIVE.failTimeoutMs,
        },
      },
    },
  },
} as const satisfies Schema;

/**
 * Checks a pool read from configuration and returns it complete: a server may be given as a
 * `"host:port"` string; `weight` defaults to 1, `passive` to nginx's 1 failure / 10 s, and a
 * health check to HAProxy's every 2 s, timeout 1 s, rise 2, fall 3, and (HTTP) `GET /`
 * expecting 200-399. Throws a {@linkcode ConfigError} naming `where` and the key.
 */
export function validatePoolOptions(raw: unknown, where: string): UpstreamPoolOptions {
  const o = validate(POOL_SCHEMA, raw, where) as Omit<UpstreamPoolOptions, "servers"> & {
    servers: (string | UpstreamServer)[];
  };
  const at = (key: string) => where === "" ? key : `${where}.${key}`;
  const seen = new Map<string, number>();
  const servers = o.servers.map((s, i) => {
    const server = typeof s === "string" ? { address: s, weight: 1 } : s;
    const key = at(`servers[${i}]${typeof s === "string" ? "" : ".address"}`);
    let parsed;
    try {
      parsed = parseUpstreamAddress(server.address);
    } catch (error) {
      throw new ConfigError(key, (error as Error).message, { cause: error });
    }
    // One upstream per endpoint: the ring, the metrics and the API tell them apart by address.
    const endpoint = `${parsed.hostname.toLowerCase()}|${parsed.port}`;
    const first = seen.get(endpoint);
    if (first !== undefined) {
      throw new ConfigError(key, `"${server.address}" repeats servers[${first}]`);
    }
    seen.set(endpoint, i);
    return server;
  });
  const out: UpstreamPoolOptions = { ...o, servers };
  const h = o.health;
  if (h) {
    if (h.kind === "tcp" && h.path !== undefined) {
      throw new ConfigError(at("health.path"), `applies to kind "http" only`);
    }
    if (h.kind === "tcp" && h.expectStatus !== undefined) {
      throw new ConfigError(at("health.expectStatus"), `applies to kind "http" only`);
    }
    if (h.expectStatus && h.expectStatus[0] > h.expectStatus[1]) {
      throw new ConfigError(
        at("health.expectStatus"),
        `[${h.expectStatus.join(", ")}] is not a range (low, high)`,
      );
    }
    out.health = h.kind === "http"
      ? { ...h, path: h.path ?? "/", expectStatus: h.expectStatus ?? [200, 399] }
      : h;
  }
  return out;
}
