import type { DomainConfig } from "../../shared/config/components.ts";
import type { ConfigStore } from "../../shared/config/config_store.ts";
import { chainBuilders, type FilterEnv } from "./chain_builders.ts";
import { chainObservers } from "./chain_observers.ts";
import { DomainChain, type StepName } from "../filters/domain_chain.ts";
import { ListManager } from "../lm/list_manager.ts";
import type { Logger } from "../../shared/log/logger.ts";
import type { Metrics } from "../../shared/metrics/metrics.ts";
import type { HttpRecord } from "../wire/record.ts";
import { decodeRecord } from "../wire/decode_record.ts";
import { decodeHeader } from "../wire/header.ts";
import { clientIp } from "../wire/client_ip.ts";
import type { ChainFactories, ChainRunner, Decision, RunnerDropReason } from "./chain_runner.ts";
import { LocalRunner } from "./local_runner.ts";
import type { ComponentName } from "../../shared/config/components.ts";
import {
  type ComponentBuilder,
  componentKey,
  type ObserverBuilder,
} from "../filters/domain_chain.ts";
import { HttpStats } from "../filters/statstore_http_stats.ts";
import type { DecisionClock } from "./record_clock.ts";

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
  | "config_error"
  | "bad_remote_addr"
  | "domain_cap"
  | "worker_failed";

/** Options of {@linkcode Pipeline}. */
export interface PipelineOptions {
  store: ConfigStore;
  lm: ListManager;
  metrics: Metrics;
  log: Logger;
  /** Event time source in ms; a clock with `observe` is advanced by each record (replay). */
  clock: { now(): number; observe?(record: HttpRecord): void };
  /** Where chains run: a LocalRunner (this thread) or a WorkerRunner. */
  runner?: ChainRunner;
  /** Filter services in this thread, for trial builds of candidate configurations. */
  env?: FilterEnv;
  /**
   * Without `runner`: the factories of a LocalRunner made here (tests wrap the built-in ones);
   * they also serve trial builds when `env` is absent.
   */
  builders?: Partial<Record<ComponentName, ComponentBuilder>>;
  observers?: Partial<Record<ComponentName, ObserverBuilder>>;
  /** The list manager's clock, set to each decision's event time while it is applied. */
  decisionClock?: DecisionClock;
  /** Largest accepted body (settings max_body). */
  maxBody?: number;
  /**
   * Most domains without a configuration of their own (`force_domains = *`) that may have a
   * chain at once (settings domain_cap). Past it, records of further such domains are dropped
   * as `domain_cap`. Default 10,000.
   */
  domainCap?: number;
  /**
   * A domain without a configuration of their own whose last record is this old (event time,
   * ms) loses its chain and per-IP filter state at the next sweep (settings domain_idle).
   * Default 10 minutes.
   */
  domainIdleMs?: number;
}

/** Default of {@linkcode PipelineOptions.domainCap}. */
export const DEFAULT_DOMAIN_CAP = 10_000;
/** Default of {@linkcode PipelineOptions.domainIdleMs}. */
export const DEFAULT_DOMAIN_IDLE_MS = 600_000;

/** What the pipeline keeps per domain that records went to. */
interface Seen {
  /** `qts_records_total{domain}`. */
  records: { value: number };
  /** Event time of its last record (ms). */
  at: number;
}

const DROPPED = "qts_input_dropped_total";
/** The pipeline's series labelled by domain: dropped with an evicted domain. */
const DOMAIN_SERIES = ["qts_records_total", "qts_events_total", "qts_config_errors_total"];
const DROPPED_HELP = "Input messages dropped, by reason";

/**
 * The sensor's data path after the socket: header → domain routing → decode → the chain
 * runner (join, filters) → decisions → the list manager. Never throws on input: every dropped
 * message is counted by reason and logged at a limited rate. Configuration changes reach the
 * runner and the list manager from here.
 */
export class Pipeline {
  readonly #o: PipelineOptions;
  readonly #building = new Map<number, Promise<boolean>>();
  /** Domains records went to while they have a chain (or are having one built). */
  readonly #seen = new Map<number, Seen>();
  /** Domains without a configuration of their own that have a chain or are being built. */
  readonly #auto = new Set<number>();
  readonly #cap: number;
  readonly #idleMs: number;
  readonly #dropCounters = new Map<string, { value: number }>();
  readonly #eventCounters = new Map<number, { value: number }>();
  readonly #runner: ChainRunner;
  readonly #factories: ChainFactories;
  /** Domains whose chain and projections are in force. */
  readonly #known = new Set<number>();
  /** Domains whose first configuration failed, with when: retried every 10 s, not per record. */
  readonly #failed = new Map<number, number>();
  /** Per-domain queue: reconfigurations and removals of one domain run one at a time. */
  readonly #tails = new Map<number, Promise<void>>();
  /** A queued reconfiguration that has not started yet; later requests share it. */
  readonly #queued = new Map<number, Promise<void>>();
  #lastSweep = 0;
  readonly #evicted: { value: number };

  constructor(options: PipelineOptions) {
    this.#o = options;
    this.#cap = options.domainCap ?? DEFAULT_DOMAIN_CAP;
    this.#idleMs = options.domainIdleMs ?? DEFAULT_DOMAIN_IDLE_MS;
    const env = options.env;
    this.#factories = env
      ? { builders: chainBuilders(env), observers: chainObservers(env) }
      : { builders: options.builders ?? {}, observers: options.observers ?? {} };
    this.#runner = options.runner ?? new LocalRunner(
      env ?? {
        settings: options.store.settings,
        global: () => options.store.global,
        log: options.log,
        stats: new HttpStats(),
      },
      { decide: (d) => this.decide(d), drop: (r, id) => this.dropped(r, id) },
      1,
      options.builders ? this.#factories : undefined,
    );
    this.#evicted = options.metrics.counter(
      "qts_domains_evicted_total",
      "Domains without a configuration of their own whose idle chain was dropped",
    );
    options.store.onChange((change) => {
      if (change.global) this.#runner.setGlobal(options.store.global);
      for (const id of change.removed) void this.#enqueue(id, () => this.#remove(id));
      const ids = new Set(change.changed);
      // A domain given a configuration of its own no longer counts against domain_cap.
      for (const id of ids) {
        if (this.#auto.has(id) && options.store.hasDomain(id)) this.#auto.delete(id);
      }
      if (change.global) { for (const id of this.#known) ids.add(id); }
      // Failures are logged and counted inside reconfigure; the previous chain stays in force.
      for (const id of ids) this.reconfigure(id).catch(() => {});
    });
  }

  /** The list manager's view of a runner decision. */
  decide(decision: Decision): void {
    let events = this.#eventCounters.get(decision.domainId);
    if (!events) {
      events = this.#o.metrics.counter(
        "qts_events_total",
        "Filter events passed to the list manager",
        {
          domain: decision.domainId,
        },
      );
      this.#eventCounters.set(decision.domainId, events);
    }
    events.value += decision.events.length;
    const flags = new Map<string, boolean>();
    for (const flag of decision.flags) flags.set(flag, true);
    const apply = () =>
      this.#o.lm.onEvents(
        decision.domainId,
        decision.ip,
        decision.events,
        flags,
        decision.worker,
        decision.sample,
      );
    if (this.#o.decisionClock) this.#o.decisionClock.at(decision.now, apply);
    else apply();
  }

  /** Counts a record the runner dropped after routing (or could not decode, in a worker). */
  dropped(reason: RunnerDropReason, domainId: number, detail?: string): void {
    this.#drop(reason, detail ?? "request id seen twice", domainId);
  }

  /** Builds chains and projections for every configured domain. */
  async start(): Promise<void> {
    for (const id of this.#o.store.domains()) {
      await this.reconfigure(id).catch(() => {});
    }
  }

  /** Handles one ZeroMQ message (header frame + body frame). */
  handleFrames(frames: Uint8Array[]): void | Promise<void> {
    if (frames.length !== 2) return this.#drop("bad_frame_count", `${frames.length} frames`);
    const domainId = decodeHeader(frames[0]!);
    if (domainId === undefined) return this.#drop("bad_header", "header is not http:<domain_id>:");
    if (!this.#o.store.accepts(domainId)) {
      return this.#drop("unknown_domain", `domain ${domainId} is not in force_domains`);
    }
    const body = frames[1]!;
    const runner = this.#runner;
    if (runner.submitBody !== undefined && this.#o.clock.observe === undefined) {
      // Workers decode (and report what they reject): the ingest thread only routes, so its
      // cost per record stays well below the chain's and the workers can pay for themselves.
      return this.#route(domainId, (now) => runner.submitBody!(domainId, body, now));
    }
    const result = decodeRecord(body, { maxBytes: this.#o.maxBody ?? 1 << 20 });
    if (!result.ok) return this.#drop(result.reason, result.detail, domainId);
    return this.#submit(domainId, result.record, body);
  }

  /**
   * Runs one decoded record as if it arrived on the socket. A plain record's `remote_addr` is
   * checked and normalised here as the decoder does for wire bytes.
   */
  handleRecord(domainId: number, record: HttpRecord, body?: Uint8Array): void | Promise<void> {
    const addr = record.remote_addr;
    if (addr !== undefined && addr !== "") {
      const ip = clientIp(addr);
      if (ip === undefined) {
        return this.#drop("bad_remote_addr", `remote_addr ${JSON.stringify(addr)}`, domainId);
      }
      if (ip !== addr) record.remote_addr = ip;
    }
    return this.#submit(domainId, record, body ?? new Uint8Array(0));
  }

  #submit(domainId: number, record: HttpRecord, body: Uint8Array): void | Promise<void> {
    this.#o.clock.observe?.(record);
    return this.#route(domainId, (now) => this.#runner.submit(domainId, record, body, now));
  }

  /** Routes a record of a domain to `run` (the runner's submit), at the clock's time. */
  #route(
    domainId: number,
    run: (now: number) => void | Promise<void>,
  ): void | Promise<void> {
    const now = this.#o.clock.now();
    if (now - this.#lastSweep >= 30_000) this.#sweep(now);
    const seen = this.#seen.get(domainId);
    if (seen !== undefined && this.#runner.has(domainId)) {
      seen.records.value++;
      seen.at = now;
      return run(now);
    }
    if (seen === undefined && !this.#admit(domainId)) {
      return this.#drop(
        "domain_cap",
        `more than ${this.#cap} domains without a configuration of their own`,
        domainId,
      );
    }
    const entry = this.#seenEntry(domainId);
    entry.records.value++;
    entry.at = now;
    if (this.#runner.has(domainId)) return run(now);
    return this.#firstSight(domainId).then((ok) => {
      if (!ok) return this.#drop("config_error", "domain configuration failed to build", domainId);
      return run(now);
    });
  }

  /**
   * Whether a domain records arrive for (again) may have a chain: always with a configuration of
   * its own, else while fewer than `domainCap` such domains have one.
   */
  #admit(domainId: number): boolean {
    if (this.#auto.has(domainId) || this.#known.has(domainId)) return true;
    if (this.#o.store.hasDomain(domainId)) return true;
    if (this.#auto.size >= this.#cap) return false;
    this.#auto.add(domainId);
    return true;
  }

  #seenEntry(domainId: number): Seen {
    let seen = this.#seen.get(domainId);
    if (!seen) {
      // The registry keeps the series while the domain has a chain (a counter must not restart
      // while it runs); an evicted domain's series go with it and start over if it returns.
      const records = this.#o.metrics.counter(
        "qts_records_total",
        "Records routed to the filter chain",
        { domain: domainId },
      );
      seen = { records, at: 0 };
      this.#seen.set(domainId, seen);
    }
    return seen;
  }

  #drop(reason: DropReason, detail: string, domainId?: number): void {
    let counter = this.#dropCounters.get(reason);
    if (!counter) {
      counter = this.#o.metrics.counter(DROPPED, DROPPED_HELP, { reason });
      this.#dropCounters.set(reason, counter);
    }
    counter.value++;
    this.#o.log.limited(`drop:${reason}`, "warn", "input message dropped", {
      reason,
      detail,
      ...(domainId !== undefined ? { domain: domainId } : {}),
    });
  }

  #sweep(now: number): void {
    this.#lastSweep = now;
    this.#evictIdle(now);
    this.#runner.sweep(now);
  }

  /**
   * Drops the chains (and so the per-IP filter state) of domains without a configuration of
   * their own that have had no record for `domainIdleMs`, and their per-domain metric series;
   * a later record builds a fresh chain. The list manager forgets their projections once they
   * hold no ban, offender or watched IP (`forgetIdle`), and keeps them until then.
   */
  #evictIdle(now: number): void {
    const limit = now - this.#idleMs;
    for (const domainId of this.#auto) {
      const seen = this.#seen.get(domainId);
      if (seen !== undefined && seen.at > limit) continue;
      if (this.#building.has(domainId) || this.#queued.has(domainId)) continue;
      if (this.#o.store.hasDomain(domainId)) {
        // It has a configuration of its own now: it stays, and no longer counts against the cap.
        this.#auto.delete(domainId);
        continue;
      }
      this.#auto.delete(domainId);
      this.#seen.delete(domainId);
      this.#failed.delete(domainId);
      this.#evicted.value++;
      void this.#enqueue(domainId, async () => {
        // A record that arrived meanwhile made it live again: keep the chain.
        if (this.#seen.has(domainId)) return;
        this.#known.delete(domainId);
        await this.#runner.remove(domainId);
        // Back while its chain closed: a fresh one is queued, and its counters live on.
        if (this.#seen.has(domainId)) return;
        this.#forgetSeries(domainId);
        this.#o.lm.forgetIdle(domainId);
      });
    }
  }

  /** Removes the metric series labelled with an evicted domain. */
  #forgetSeries(domainId: number): void {
    const labels = { domain: domainId };
    this.#eventCounters.delete(domainId);
    for (const name of DOMAIN_SERIES) this.#o.metrics.remove(name, labels);
  }

  /** Domains without a configuration of their own that have a chain (or are getting one). */
  autoDomains(): number {
    return this.#auto.size;
  }

  /** Called on the 30 s timer when live (replay drives time through records instead). */
  tick(): void {
    this.#sweep(this.#o.clock.now());
    this.#o.lm.tick();
  }

  #firstSight(domainId: number): Promise<boolean> {
    const known = this.#building.get(domainId);
    if (known) return known;
    // A domain whose configuration cannot be built is retried every 10 s, not per record.
    const failedAt = this.#failed.get(domainId);
    if (failedAt !== undefined && Date.now() - failedAt < 10_000) return Promise.resolve(false);
    const building = this.reconfigure(domainId).then(
      () => (this.#failed.delete(domainId), true),
      () => (this.#failed.set(domainId, Date.now()), false),
    );
    this.#building.set(domainId, building);
    void building.finally(() => this.#building.delete(domainId));
    return building;
  }

  /**
   * Builds a throwaway chain for a candidate configuration, so the API can refuse a
   * configuration whose filters cannot be built (missing list file, bad Lua) before it commits.
   */
  async check(domainId: number, config: DomainConfig): Promise<void> {
    ListManager.check(domainId, config.lm, this.#o.store.global.lm);
    const trial = new DomainChain(domainId, this.#factories.builders, this.#factories.observers);
    try {
      await trial.configure(config, componentKey(config, this.#o.store.global));
    } finally {
      await trial.close();
    }
  }

  /**
   * (Re)applies a domain's effective configuration to its chain and projections. A build error
   * keeps the previous chain and projections, and is logged, counted and rethrown.
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
    try {
      // Checked first so a projection error cannot leave a new chain beside old projections.
      ListManager.check(domainId, config.lm, this.#o.store.global.lm);
      const skipped = await this.#runner.configure(domainId, config);
      for (const error of skipped) {
        this.#o.metrics.inc(
          "qts_config_errors_total",
          "Domain configurations that failed to build",
          {
            domain: domainId,
          },
        );
        this.#o.log.log("error", "component left out of a new domain chain", {
          domain: domainId,
          error,
        });
      }
    } catch (error) {
      this.#o.metrics.inc("qts_config_errors_total", "Domain configurations that failed to build", {
        domain: domainId,
      });
      this.#o.log.limited(`config:${domainId}`, "error", "domain configuration not applied", {
        domain: domainId,
        error: (error as Error).message,
      });
      throw error;
    }
    this.#known.add(domainId);
    this.#o.lm.configure(domainId, config.lm, this.#o.store.global.lm, config.qpc);
  }

  async #remove(domainId: number): Promise<void> {
    this.#known.delete(domainId);
    this.#auto.delete(domainId);
    this.#seen.delete(domainId);
    this.#o.lm.removeDomain(domainId);
    await this.#runner.remove(domainId);
  }

  /** The filter steps in force for a domain (for /stats and tests). */
  steps(domainId: number): StepName[] | undefined {
    return this.#runner.steps(domainId);
  }

  /** The chain of a domain as far as callers may see it: its steps, when built. */
  chain(domainId: number): { steps(): StepName[] } | undefined {
    const steps = this.#runner.steps(domainId);
    return steps ? { steps: () => steps } : undefined;
  }

  /** Ids of the domains that have a chain. */
  domainIds(): number[] {
    return [...this.#known];
  }

  /** Closes the runner's chains after queued reconfigurations finish. */
  async close(): Promise<void> {
    await Promise.all(this.#tails.values());
    await this.#runner.close();
  }
}
