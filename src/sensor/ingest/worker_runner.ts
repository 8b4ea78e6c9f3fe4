import type { DomainConfig } from "../../shared/config/components.ts";
import type { Settings } from "../../shared/config/settings.ts";
import type { StepName } from "../filters/domain_chain.ts";
import { mergeStats, type StatsSnapshot } from "../filters/statstore_http_stats.ts";
import type { LogLevel } from "../../shared/log/logger.ts";
import { clientAddress, type HttpRecord } from "../wire/record.ts";
import type { ChainRunner, RunnerSinks } from "./chain_runner.ts";
import type { FromWorker, ToWorker } from "./_worker_protocol.ts";
import { fnv1a } from "../../shared/hash/fnv1a.ts";

/** Options of {@linkcode WorkerRunner}. */
export interface WorkerRunnerOptions {
  workers: number;
  settings: Settings;
  global: DomainConfig;
  logLevel: LogLevel;
  sinks: RunnerSinks;
  /** Receives sampled records from the workers' telemetry samplers. */
  publishTelemetry?(json: string): void;
  /** Records per batch before it is posted without waiting for the next turn. */
  batchSize?: number;
  /** Batches a worker may have in flight before submit() waits (back-pressure). */
  maxInFlight?: number;
}

interface Lane {
  worker: Worker;
  pending: { seq: number; domainId: number; body: Uint8Array; now: number }[];
  /** First sequence number of each batch in flight, oldest first. */
  flying: number[];
  bytes: number;
  inFlight: number;
  drained: PromiseWithResolvers<void> | undefined;
  stats: StatsSnapshot;
}

/** FNV-1a of the client address: one IP always lands on one worker, with its state. */
function shardOf(ip: string, n: number): number {
  return fnv1a(ip) % n;
}

/**
 * Runs the chains in Web Workers (SPEC §8): records are sharded by client IP, so per-IP state
 * lives in one worker; they travel in batches of wire bytes (one transferred buffer per batch,
 * no per-record message), and decisions come back per batch. When a worker falls behind,
 * submit() waits, which stops reading the input socket: back-pressure reaches the proxies.
 */
export class WorkerRunner implements ChainRunner {
  readonly #o: WorkerRunnerOptions;
  readonly #lanes: Lane[] = [];
  readonly #acks = new Map<number, PromiseWithResolvers<FromWorker & { t: "ack" }>>();
  readonly #statsWaits = new Map<number, PromiseWithResolvers<StatsSnapshot>>();
  readonly #steps = new Map<number, StepName[]>();
  #nextId = 1;
  #seq = 0;
  /** Ingest sequence number of the next record. */
  #record = 0;
  /** Decisions waiting for every earlier record's decision (they are applied in record order). */
  #held: (import("./chain_runner.ts").Decision & { seq: number })[] = [];
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #statsTimer: ReturnType<typeof setInterval> | undefined;
  readonly #batchSize: number;
  readonly #maxInFlight: number;

  constructor(options: WorkerRunnerOptions) {
    this.#o = options;
    this.#batchSize = options.batchSize ?? 256;
    this.#maxInFlight = options.maxInFlight ?? 16;
    for (let i = 0; i < Math.max(1, options.workers); i++) {
      const worker = new Worker(new URL("./chain_worker.ts", import.meta.url), { type: "module" });
      const lane: Lane = {
        worker,
        pending: [],
        flying: [],
        bytes: 0,
        inFlight: 0,
        drained: undefined,
        stats: { domains: {}, drops: {} },
      };
      worker.onmessage = (event: MessageEvent<FromWorker>) => this.#receive(lane, event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        console.error(
          JSON.stringify({ level: "error", msg: "chain worker error", error: event.message }),
        );
      };
      this.#post(lane, {
        t: "init",
        settings: options.settings,
        global: options.global,
        worker: i + 1,
        logLevel: options.logLevel,
      });
      this.#lanes.push(lane);
    }
    // statstore counters live in the workers; a fresh merged copy a second is enough for
    // /stats and /metrics and costs nothing on the record path.
    this.#statsTimer = setInterval(() => void this.refreshStats(), 1000);
  }

  #post(lane: Lane, message: ToWorker, transfer: Transferable[] = []): void {
    lane.worker.postMessage(message, transfer);
  }

  #receive(lane: Lane, message: FromWorker): void {
    switch (message.t) {
      case "ack": {
        const wait = this.#acks.get(message.id);
        this.#acks.delete(message.id);
        wait?.resolve(message);
        return;
      }
      case "done": {
        lane.inFlight--;
        lane.flying.shift();
        if (message.decisions.length > 0) this.#held.push(...message.decisions);
        this.#release();
        for (const domainId of message.duplicates) this.#o.sinks.drop("duplicate", domainId);
        if (this.#o.publishTelemetry) {
          for (const json of message.telemetry) this.#o.publishTelemetry(json);
        }
        if (lane.drained && lane.inFlight < this.#maxInFlight) {
          lane.drained.resolve();
          lane.drained = undefined;
        }
        return;
      }
      case "stats": {
        lane.stats = message.snapshot;
        const wait = this.#statsWaits.get(message.id);
        this.#statsWaits.delete(message.id);
        wait?.resolve(message.snapshot);
        return;
      }
    }
  }

  /**
   * Applies held decisions in record order, up to the oldest record some worker still has:
   * the list manager then sees the same sequence whatever the number of workers, so
   * projections' windows and replay results do not depend on scheduling.
   */
  #release(): void {
    if (this.#held.length === 0) return;
    let safe = Infinity;
    for (const lane of this.#lanes) {
      const oldest = lane.flying[0] ?? lane.pending[0]?.seq;
      if (oldest !== undefined && oldest < safe) safe = oldest;
    }
    this.#held.sort((a, b) => a.seq - b.seq);
    let n = 0;
    while (n < this.#held.length && this.#held[n]!.seq < safe) n++;
    if (n === 0) return;
    const ready = this.#held.splice(0, n);
    for (const { seq: _seq, ...decision } of ready) this.#o.sinks.decide(decision);
  }

  async #everyWorker(make: (id: number) => ToWorker): Promise<(FromWorker & { t: "ack" })[]> {
    const waits = this.#lanes.map((lane) => {
      const id = this.#nextId++;
      const wait = Promise.withResolvers<FromWorker & { t: "ack" }>();
      this.#acks.set(id, wait);
      this.#post(lane, make(id));
      return wait.promise;
    });
    return await Promise.all(waits);
  }

  submit(
    domainId: number,
    record: HttpRecord,
    body: Uint8Array,
    now: number,
  ): void | Promise<void> {
    const lane = this.#lanes[shardOf(clientAddress(record), this.#lanes.length)]!;
    lane.pending.push({ seq: this.#record++, domainId, body, now });
    lane.bytes += body.length;
    if (lane.pending.length >= this.#batchSize) this.#flush(lane);
    else this.#flushTimer ??= setTimeout(() => this.flush(), 0);
    if (lane.inFlight >= this.#maxInFlight) {
      lane.drained ??= Promise.withResolvers<void>();
      return lane.drained.promise;
    }
  }

  /** Posts every partly filled batch now. */
  flush(): void {
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    for (const lane of this.#lanes) if (lane.pending.length > 0) this.#flush(lane);
  }

  #flush(lane: Lane): void {
    const n = lane.pending.length;
    const seqs = new Float64Array(n);
    const domains = new Uint32Array(n);
    const nows = new Float64Array(n);
    const ends = new Uint32Array(n);
    const bytes = new Uint8Array(lane.bytes);
    let offset = 0;
    for (let i = 0; i < n; i++) {
      const item = lane.pending[i]!;
      seqs[i] = item.seq;
      domains[i] = item.domainId;
      nows[i] = item.now;
      bytes.set(item.body, offset);
      offset += item.body.length;
      ends[i] = offset;
    }
    lane.flying.push(seqs[0]!);
    lane.pending = [];
    lane.bytes = 0;
    lane.inFlight++;
    this.#post(lane, { t: "batch", seq: this.#seq++, seqs, domains, nows, ends, bytes }, [
      seqs.buffer,
      domains.buffer,
      nows.buffer,
      ends.buffer,
      bytes.buffer,
    ]);
  }

  async configure(domainId: number, config: DomainConfig): Promise<string[]> {
    this.flush();
    const acks = await this.#everyWorker((id) => ({ t: "configure", id, domainId, config }));
    const failed = acks.find((a) => a.error !== undefined);
    if (failed) throw new TypeError(failed.error);
    this.#steps.set(domainId, acks[0]?.steps ?? []);
    return acks[0]?.skipped ?? [];
  }

  has(domainId: number): boolean {
    return this.#steps.has(domainId);
  }

  setGlobal(global: DomainConfig): void {
    for (const lane of this.#lanes) this.#post(lane, { t: "global", global });
  }

  async remove(domainId: number): Promise<void> {
    this.flush();
    this.#steps.delete(domainId);
    await this.#everyWorker((id) => ({ t: "remove", id, domainId }));
  }

  sweep(now: number): void {
    for (const lane of this.#lanes) this.#post(lane, { t: "sweep", now });
  }

  steps(domainId: number): StepName[] | undefined {
    return this.#steps.get(domainId);
  }

  /** Asks every worker for its counters; resolves with the merged result. */
  async refreshStats(): Promise<StatsSnapshot> {
    const waits = this.#lanes.map((lane) => {
      const id = this.#nextId++;
      const wait = Promise.withResolvers<StatsSnapshot>();
      this.#statsWaits.set(id, wait);
      this.#post(lane, { t: "stats", id });
      return wait.promise;
    });
    return mergeStats(await Promise.all(waits));
  }

  stats(): StatsSnapshot {
    return mergeStats(this.#lanes.map((lane) => lane.stats));
  }

  /** Resolves when every submitted record has been decided. */
  settled(): Promise<void> {
    return this.drain();
  }

  /** Resolves when every posted batch has come back (tests, shutdown). */
  async drain(): Promise<void> {
    this.flush();
    // A worker answers in order, so its stats reply comes after every batch posted before it.
    await this.refreshStats();
  }

  async close(): Promise<void> {
    this.flush();
    if (this.#statsTimer !== undefined) clearInterval(this.#statsTimer);
    this.#statsTimer = undefined;
    await this.#everyWorker((id) => ({ t: "close", id }));
    for (const lane of this.#lanes) lane.worker.terminate();
    for (const wait of this.#statsWaits.values()) wait.resolve({ domains: {}, drops: {} });
    this.#statsWaits.clear();
  }
}
