import type { ComponentName, DomainConfig } from "../config/components.ts";
import type { ConfigStore } from "../config/config_store.ts";
import type { ComponentBuilder, ObserverBuilder } from "../filters/chain.ts";
import { DomainChain } from "../filters/chain.ts";
import type { RequestContext } from "../filters/types.ts";
import { ListManager } from "../lm/list_manager.ts";
import type { Logger } from "../log/logger.ts";
import type { Metrics } from "../metrics/prometheus.ts";
import { clientAddress, type HttpRecord } from "../wire/record.ts";
import { decodeRecord } from "../wire/decode_record.ts";
import { decodeHeader } from "../wire/header.ts";
import { RequestJoin } from "./request_join.ts";

/** Why an input message was dropped (`qts_input_dropped_total{reason}`). */
export type DropReason =
  | "bad_frame_count"
  | "bad_header"
  | "unknown_domain"
  | "short_body"
  | "bad_length"
  | "bad_utf8"
  | "trailing_bytes"
  | "oversized"
  | "duplicate"
  | "config_error";

/** Options of {@linkcode Pipeline}. */
export interface PipelineOptions {
  store: ConfigStore;
  lm: ListManager;
  metrics: Metrics;
  log: Logger;
  /** Event time source in ms; a clock with `observe` is advanced by each record (replay). */
  clock: { now(): number; observe?(record: HttpRecord): void };
  builders: Partial<Record<ComponentName, ComponentBuilder>>;
  observers?: Partial<Record<ComponentName, ObserverBuilder>>;
  /** Number of shards requests are spread over by client IP (`wrk_<n>`). */
  workers?: number;
  /** Largest accepted body (settings max_body). */
  maxBody?: number;
}

const DROPPED = "qts_input_dropped_total";
const DROPPED_HELP = "Input messages dropped, by reason";

/** FNV-1a of a string: stable IP → shard mapping. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The sensor's data path after the socket: header → domain routing → decode → before/after
 * join → the domain's filter chain → the list manager. Never throws on input: every dropped
 * message is counted by reason and logged at a limited rate.
 */
export class Pipeline {
  readonly #o: PipelineOptions;
  readonly #chains = new Map<number, DomainChain>();
  readonly #building = new Map<number, Promise<DomainChain | undefined>>();
  /** Per-domain queue: reconfigurations and removals of one domain run one at a time. */
  readonly #tails = new Map<number, Promise<void>>();
  /** A queued reconfiguration that has not started yet; later requests share it. */
  readonly #queued = new Map<number, Promise<void>>();
  readonly #join = new RequestJoin();
  readonly #workers: number;
  readonly #counters = new Map<number, { value: number }>();
  #lastSweep = 0;

  constructor(options: PipelineOptions) {
    this.#o = options;
    this.#workers = Math.max(1, options.workers ?? 1);
    options.store.onChange((change) => {
      for (const id of change.removed) void this.#enqueue(id, () => this.#remove(id));
      const ids = change.global ? [...this.#chains.keys()] : change.changed;
      // Failures are logged and counted inside reconfigure; the previous chain stays in force.
      for (const id of new Set([...ids, ...change.changed])) this.reconfigure(id).catch(() => {});
    });
  }

  /** Builds chains and projections for every configured domain. */
  async start(): Promise<void> {
    for (const id of this.#o.store.domains()) await this.reconfigure(id);
  }

  /** Handles one ZeroMQ message (header frame + body frame). */
  handleFrames(frames: Uint8Array[]): void | Promise<void> {
    if (frames.length !== 2) return this.#drop("bad_frame_count", `${frames.length} frames`);
    const domainId = decodeHeader(frames[0]!);
    if (domainId === undefined) return this.#drop("bad_header", "header is not http:<domain_id>:");
    if (!this.#o.store.accepts(domainId)) {
      this.#o.metrics.inc(
        "qts_input_unknown_domain_total",
        "Messages for domains not in force_domains",
        {
          domain: domainId,
        },
      );
      return this.#drop("unknown_domain", `domain ${domainId} is not in force_domains`);
    }
    const result = decodeRecord(frames[1]!, { maxBytes: this.#o.maxBody ?? 1 << 20 });
    if (!result.ok) return this.#drop(result.reason, result.detail, domainId);
    return this.handleRecord(domainId, result.record);
  }

  /** Runs one decoded record through join, chain and list manager. */
  handleRecord(domainId: number, record: HttpRecord): void | Promise<void> {
    this.#o.clock.observe?.(record);
    const now = this.#o.clock.now();
    if (now - this.#lastSweep >= 30_000) this.#sweep(now);
    let phase: "first" | "response" = "first";
    if (record.qrator_request_id !== "") {
      const kind = this.#join.classify(
        `${domainId}:${record.qrator_request_id}`,
        record.req_type,
        now,
      );
      if (kind === "duplicate") return this.#drop("duplicate", "request id seen twice", domainId);
      phase = kind;
    }
    const chain = this.#chains.get(domainId);
    if (chain) return this.#run(chain, domainId, record, phase, now);
    return this.#chainFor(domainId).then((built) => {
      if (!built) {
        return this.#drop("config_error", "domain configuration failed to build", domainId);
      }
      return this.#run(built, domainId, record, phase, now);
    });
  }

  #run(
    chain: DomainChain,
    domainId: number,
    record: HttpRecord,
    phase: "first" | "response",
    now: number,
  ): void | Promise<void> {
    const ip = clientAddress(record);
    const ctx: RequestContext = { domainId, ip, now, phase, flags: new Map(), events: [] };
    this.#recordCounter(domainId, phase).value++;
    const pending = chain.run(record, ctx);
    if (pending) return pending.then(() => this.#decide(ctx));
    this.#decide(ctx);
  }

  #recordCounter(domainId: number, phase: "first" | "response"): { value: number } {
    const key = phase === "first" ? domainId : -1 - domainId;
    let counter = this.#counters.get(key);
    if (!counter) {
      counter = this.#o.metrics.counter(
        "qts_records_total",
        "Records run through the filter chain",
        {
          domain: domainId,
          phase,
        },
      );
      this.#counters.set(key, counter);
    }
    return counter;
  }

  #decide(ctx: RequestContext): void {
    if (ctx.events.length === 0) return;
    this.#o.metrics.inc("qts_events_total", "Filter events passed to the list manager", {
      domain: ctx.domainId,
    }, ctx.events.length);
    const worker = (hash(ctx.ip) % this.#workers) + 1;
    this.#o.lm.onEvents(ctx.domainId, ctx.ip, ctx.events, ctx.flags, worker);
  }

  #drop(reason: DropReason, detail: string, domainId?: number): void {
    this.#o.metrics.inc(DROPPED, DROPPED_HELP, { reason });
    this.#o.log.limited(`drop:${reason}`, "warn", "input message dropped", {
      reason,
      detail,
      ...(domainId !== undefined ? { domain: domainId } : {}),
    });
  }

  #sweep(now: number): void {
    this.#lastSweep = now;
    for (const chain of this.#chains.values()) chain.sweep(now);
    this.#join.expire(now);
    this.#o.metrics.set(
      "qts_join_pending",
      "Request ids waiting for their after-message",
      {},
      this.#join.size,
    );
  }

  /** Called on the 30 s timer when live (replay drives time through records instead). */
  tick(): void {
    this.#sweep(this.#o.clock.now());
    this.#o.lm.tick();
  }

  #chainFor(domainId: number): Promise<DomainChain | undefined> {
    const known = this.#building.get(domainId);
    if (known) return known;
    const building = this.reconfigure(domainId).then(
      () => this.#chains.get(domainId),
      () => undefined,
    );
    this.#building.set(domainId, building);
    void building.finally(() => this.#building.delete(domainId));
    return building;
  }

  /** The key that decides whether a component's filters can be kept across a reload. */
  #keyOf(config: DomainConfig) {
    const global = this.#o.store.global;
    return (name: ComponentName) =>
      name === "fixed_lists"
        ? JSON.stringify([config.fixed_lists, global.fixed_lists])
        : `${JSON.stringify(config[name])}`;
  }

  /**
   * Builds a throwaway chain for a candidate configuration, so the API can refuse a
   * configuration whose filters cannot be built (missing list file, bad Lua) before it commits.
   */
  async check(domainId: number, config: DomainConfig): Promise<void> {
    ListManager.check(domainId, config.lm, this.#o.store.global.lm);
    const trial = new DomainChain(domainId, this.#o.builders, this.#o.observers ?? {});
    try {
      await trial.configure(config, this.#keyOf(config));
    } finally {
      await trial.close();
    }
  }

  /**
   * (Re)applies a domain's effective configuration to its chain and projections. A build error
   * keeps the previous chain and is logged, counted and rethrown for the API's explicit calls.
   */
  reconfigure(domainId: number): Promise<void> {
    // Two overlapping runs for one domain would each build a fresh chain (one leaks) or apply
    // an older configuration last; queued, they apply in order, and requests made before a
    // queued run starts share it (it reads the configuration current when it starts).
    const queued = this.#queued.get(domainId);
    if (queued) return queued;
    const run = this.#enqueue(domainId, () => {
      this.#queued.delete(domainId);
      return this.#apply(domainId);
    });
    this.#queued.set(domainId, run);
    return run;
  }

  /** Resolves when the queued reconfigurations and removals of a domain have finished. */
  settled(domainId: number): Promise<void> {
    return this.#tails.get(domainId) ?? Promise.resolve();
  }

  #enqueue(domainId: number, task: () => Promise<void>): Promise<void> {
    const run = (this.#tails.get(domainId) ?? Promise.resolve()).then(task);
    const tail = run.catch(() => {});
    this.#tails.set(domainId, tail);
    void tail.then(() => {
      if (this.#tails.get(domainId) === tail) this.#tails.delete(domainId);
    });
    return run;
  }

  async #apply(domainId: number): Promise<void> {
    const config = this.#o.store.domainConfig(domainId);
    let chain = this.#chains.get(domainId);
    const fresh = !chain;
    chain ??= new DomainChain(domainId, this.#o.builders, this.#o.observers ?? {});
    try {
      // Checked first so a projection error cannot leave a new chain beside old projections.
      ListManager.check(domainId, config.lm, this.#o.store.global.lm);
      await chain.configure(config, this.#keyOf(config));
    } catch (error) {
      this.#o.metrics.inc("qts_config_errors_total", "Domain configurations that failed to build", {
        domain: domainId,
      });
      this.#o.log.log("error", "domain configuration not applied", {
        domain: domainId,
        error: (error as Error).message,
      });
      if (fresh) await chain.close();
      throw error;
    }
    if (fresh) this.#chains.set(domainId, chain);
    this.#o.lm.configure(domainId, config.lm, this.#o.store.global.lm);
  }

  async #remove(domainId: number): Promise<void> {
    this.#o.lm.removeDomain(domainId);
    const chain = this.#chains.get(domainId);
    this.#chains.delete(domainId);
    await chain?.close();
  }

  /** The chain of a domain, when built (stats, tests). */
  chain(domainId: number): DomainChain | undefined {
    return this.#chains.get(domainId);
  }

  /** Ids of the domains that have a chain. */
  domainIds(): number[] {
    return [...this.#chains.keys()];
  }

  /** Closes every chain. */
  async close(): Promise<void> {
    await Promise.all(this.#tails.values());
    for (const chain of this.#chains.values()) await chain.close();
    this.#chains.clear();
  }
}
