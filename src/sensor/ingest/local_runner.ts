import type { DomainConfig } from "../../shared/config/components.ts";
import { chainBuilders, type FilterEnv } from "./chain_builders.ts";
import { chainObservers } from "./chain_observers.ts";
import {
  componentKey,
  ComponentPool,
  DomainChain,
  type StepName,
} from "../filters/domain_chain.ts";
import type { StatsSnapshot } from "../filters/statstore_http_stats.ts";
import type { FilterInstance, RequestContext } from "../filters/types.ts";
import { clientAddress, type HttpRecord } from "../wire/record.ts";
import { RequestJoin } from "./request_join.ts";
import type { ChainFactories, ChainRunner, RequestSample, RunnerSinks } from "./chain_runner.ts";

const MAX_IN_FLIGHT = 64;
/** Most records a held batch gathers before it runs (see LocalRunner.hold). */
export const HELD_BATCH = 64;

/** A record waiting in the batch with what its decision needs. */
interface Queued {
  chain: DomainChain;
  record: HttpRecord;
  ctx: RequestContext;
  seq: number;
  done: Done;
}

/** A filtered request waiting to be decided. */
interface Done {
  ctx: RequestContext;
  tag: number | undefined;
  /** Until the chain finished; then its sample (a decoded record may view reused buffers). */
  record: HttpRecord | undefined;
  sample?: RequestSample;
  /** Its chain raised: no decision (the caller counts the error). */
  failed?: boolean;
}

// Evidence fields are cut here: a hostile URL or User-Agent must not bloat bans and logs.
const SAMPLE_FIELD_MAX = 256;

function cut(text: string): string {
  return text.length > SAMPLE_FIELD_MAX ? text.slice(0, SAMPLE_FIELD_MAX) : text;
}

function sampleOf(record: HttpRecord): RequestSample {
  return {
    method: record.method,
    host: cut(record.host),
    url: cut(record.url),
    status: record.status,
    ua: cut(record.http_user_agent),
  };
}

/**
 * Runs chains in the calling thread: the before/after join, then the domain's chain, then a
 * decision for every request that produced events. Replay uses it directly, so decisions reach
 * the list manager in record order.
 */
export class LocalRunner implements ChainRunner {
  readonly #env: FilterEnv;
  readonly #sinks: RunnerSinks;
  readonly #worker: number;
  readonly #builders: ChainFactories;
  readonly #chains = new Map<number, DomainChain>();
  /** Filters shared by the chains of domains on one configuration (Lua state, lists…). */
  readonly #pool = new ComponentPool();
  readonly #join = new RequestJoin();
  #global: DomainConfig;
  /** Records submitted, records decided in order, and finished ones waiting for earlier ones. */
  #submitted = 0;
  #applied = 0;
  readonly #held = new Map<number, Done>();
  #inFlight = 0;
  #waiting: { limit: number; resolve: () => void }[] = [];
  /** Records per DomainChain.runBatch call; 1 runs each record as it comes. */
  #batchSize = 1;
  #queue: Queued[] = [];
  /** Open hold() calls: while any is, records wait for release() (or a full batch). */
  #holds = 0;
  /**
   * Chain calls (one record or a batch) and the records they ran: records / batches is the
   * batch size the chains really got (`qts_chain_batches_total`, `qts_chain_batch_records_total`).
   */
  readonly batches = { batches: 0, records: 0 };

  constructor(env: FilterEnv, sinks: RunnerSinks, worker = 1, factories?: ChainFactories) {
    this.#env = { ...env, global: () => this.#global };
    this.#global = env.global();
    this.#sinks = sinks;
    this.#worker = worker;
    this.#builders = factories ?? {
      builders: chainBuilders(this.#env),
      observers: chainObservers(this.#env),
    };
  }

  /**
   * Filters one record. `tag` travels with its decision (the worker's ingest sequence number).
   * A chain that waits (limit_req_mc on memcached) does not hold up the next records: up to
   * MAX_IN_FLIGHT run at once, a promise is returned only when that many wait, and decisions
   * are still applied in submission order.
   */
  submit(
    domainId: number,
    record: HttpRecord,
    _body: Uint8Array,
    now: number,
    tag?: number,
  ): void | Promise<void> {
    let phase: "first" | "response" = "first";
    if (record.qrator_request_id !== "") {
      const kind = this.#join.classify(
        `${domainId}:${record.qrator_request_id}`,
        record.req_type,
        now,
      );
      if (kind === "duplicate") return this.#sinks.drop("duplicate", domainId);
      phase = kind;
    }
    const chain = this.#chains.get(domainId);
    if (!chain) return;
    const ctx: RequestContext = {
      domainId,
      ip: clientAddress(record),
      now,
      phase,
      flags: new Map(),
      events: [],
    };
    const done: Done = { ctx, tag, record };
    const seq = this.#submitted++;
    if (this.#batchSize > 1 || this.#holds > 0) {
      this.#queue.push({ chain, record, ctx, seq, done });
      const size = this.#holds > 0 ? Math.max(this.#batchSize, HELD_BATCH) : this.#batchSize;
      return this.#queue.length >= size ? this.flush() : undefined;
    }
    this.batches.batches++;
    this.batches.records++;
    let pending: void | Promise<void>;
    try {
      pending = chain.run(record, ctx);
    } catch (error) {
      this.#fail(seq, done);
      throw error;
    }
    return this.#started(seq, done, pending);
  }

  /**
   * Records submitted from now until the matching release() wait and run together, up to
   * HELD_BATCH a batch: for a caller with several records at hand (what an input socket has
   * already queued), so Lua is entered once for them. Holds nest; the caller releases before
   * it awaits anything, so a record waits only for records already at hand, never for traffic.
   */
  hold(): void {
    this.#holds++;
  }

  /** Ends a hold(); the last one runs the waiting records (see flush()). */
  release(): void | Promise<void> {
    if (this.#holds > 0) this.#holds--;
    if (this.#holds === 0 && this.#batchSize === 1) return this.flush();
  }

  /** A record whose chain raised: its turn passes without a decision, later ones go on. */
  #fail(seq: number, done: Done): void {
    done.failed = true;
    this.#finished(seq, done);
  }

  /**
   * From now on, records wait until `size` of them are submitted (or flush(), settled(), a
   * sweep or a configuration change) and then run through DomainChain.runBatch, which enters
   * Lua once per batch instead of once per record, deciding exactly as one at a time would.
   * For callers that have many records at hand: a worker's batch, a replayed log.
   */
  batch(size: number): void {
    this.flush();
    this.#batchSize = Math.max(1, Math.floor(size));
  }

  /** Runs the records waiting in the batch, one runBatch call per run of one domain's records. */
  flush(): void | Promise<void> {
    const queue = this.#queue;
    if (queue.length === 0) return;
    this.#queue = [];
    let wait: void | Promise<void> = undefined;
    let raised: { error: unknown } | undefined;
    for (let start = 0; start < queue.length;) {
      const chain = queue[start]!.chain;
      let end = start + 1;
      while (end < queue.length && queue[end]!.chain === chain) end++;
      const run = queue.slice(start, end);
      this.batches.batches++;
      this.batches.records += run.length;
      let results: (void | Promise<void>)[];
      try {
        results = run.length === 1
          ? [chain.run(run[0]!.record, run[0]!.ctx)]
          : chain.runBatch(run.map((q) => q.record), run.map((q) => q.ctx));
      } catch (error) {
        // A filter bug fails this run's records; the other runs and later records go on.
        raised ??= { error };
        for (const q of run) this.#fail(q.seq, q.done);
        start = end;
        continue;
      }
      run.forEach((q, i) => {
        wait = this.#started(q.seq, q.done, results[i]) ?? wait;
      });
      start = end;
    }
    if (raised) throw raised.error;
    return wait;
  }

  /** A record whose chain ran (or waits): decided now, or once its wait ends. */
  #started(seq: number, done: Done, pending: void | Promise<void>): void | Promise<void> {
    if (!pending) {
      this.#finished(seq, done);
      return;
    }
    this.#inFlight++;
    pending.catch(() => {}).then(() => {
      this.#inFlight--;
      this.#finished(seq, done);
      this.#wake();
    });
    if (this.#inFlight >= MAX_IN_FLIGHT) return this.#roomFor(MAX_IN_FLIGHT - 1);
  }

  /** Resolves when every submitted record has been decided. */
  settled(): Promise<void> {
    this.flush();
    return this.#inFlight === 0 ? Promise.resolve() : this.#roomFor(0);
  }

  #roomFor(limit: number): Promise<void> {
    const wait = Promise.withResolvers<void>();
    this.#waiting.push({ limit, resolve: wait.resolve });
    return wait.promise;
  }

  #wake(): void {
    this.#waiting = this.#waiting.filter((w) => {
      if (this.#inFlight > w.limit) return true;
      w.resolve();
      return false;
    });
  }

  /** Applies decisions in submission order, as far as every earlier record has finished. */
  #finished(seq: number, done: Done): void {
    if (done.ctx.events.length > 0 && done.record) done.sample = sampleOf(done.record);
    done.record = undefined;
    if (seq !== this.#applied) {
      this.#held.set(seq, done);
      return;
    }
    this.#decide(done);
    this.#applied++;
    for (let next = this.#held.get(this.#applied); next; next = this.#held.get(this.#applied)) {
      this.#held.delete(this.#applied);
      this.#decide(next);
      this.#applied++;
    }
  }

  #decide({ ctx, tag, sample, failed }: Done): void {
    if (failed || ctx.events.length === 0) return;
    const flags: string[] = [];
    for (const [flag, value] of ctx.flags) if (value) flags.push(flag);
    this.#sinks.decide({
      domainId: ctx.domainId,
      ip: ctx.ip,
      events: ctx.events,
      flags,
      worker: this.#worker,
      now: ctx.now,
      ...(tag === undefined ? {} : { tag }),
      ...(sample === undefined ? {} : { sample }),
    });
  }

  async configure(domainId: number, config: DomainConfig): Promise<string[]> {
    // Records submitted before a change run on the chain they were submitted to.
    this.flush();
    let chain = this.#chains.get(domainId);
    const fresh = !chain;
    chain ??= new DomainChain(domainId, this.#builders.builders, this.#builders.observers, {
      pool: this.#pool,
    });
    let skipped: string[];
    try {
      const key = componentKey(config, this.#global, this.#env.settings.components_config_dir);
      skipped = await chain.configure(config, key, {
        lenient: fresh,
      });
    } catch (error) {
      if (fresh) await chain.close();
      throw error;
    }
    if (fresh) this.#chains.set(domainId, chain);
    return skipped;
  }

  has(domainId: number): boolean {
    return this.#chains.has(domainId);
  }

  setGlobal(global: DomainConfig): void {
    this.flush();
    this.#global = global;
  }

  async remove(domainId: number): Promise<void> {
    this.flush();
    const chain = this.#chains.get(domainId);
    this.#chains.delete(domainId);
    this.#env.stats.forget(domainId);
    await chain?.close();
  }

  sweep(now: number): void {
    // Idle state is judged after the records before this time have had their say.
    this.flush();
    for (const chain of this.#chains.values()) chain.sweep(now);
    this.#pool.sweep(now);
    this.#join.expire(now);
  }

  /**
   * What the chains of this thread hold: chains, shared filter instances, and the per-key
   * state of the domains' own filters (bytes of typed arrays); for tests and the bench.
   */
  footprint(): { chains: number; shared: number; keys: number; bytes: number } {
    const out = { chains: this.#chains.size, shared: this.#pool.size, keys: 0, bytes: 0 };
    for (const chain of this.#chains.values()) {
      const state = chain.state();
      out.keys += state.keys;
      out.bytes += state.bytes;
    }
    return out;
  }

  steps(domainId: number): StepName[] | undefined {
    return this.#chains.get(domainId)?.steps();
  }

  stats(): StatsSnapshot {
    const snapshot = this.#env.stats.snapshot();
    const counted = new Set<FilterInstance>();
    for (const [id, chain] of this.#chains) {
      const domain = snapshot.domains[id];
      if (domain === undefined) continue;
      chain.addCounters(domain.filters ??= {}, counted);
    }
    return snapshot;
  }

  async close(): Promise<void> {
    await this.settled();
    for (const chain of this.#chains.values()) await chain.close();
    this.#chains.clear();
  }
}
