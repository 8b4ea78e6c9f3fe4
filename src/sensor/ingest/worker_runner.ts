import type { DomainConfig } from "../../shared/config/components.ts";
import type { Settings } from "../../shared/config/settings.ts";
import type { StepName } from "../filters/domain_chain.ts";
import { mergeStats, type StatsSnapshot } from "../filters/statstore_http_stats.ts";
import type { Logger, LogLevel } from "../../shared/log/logger.ts";
import type { Metrics } from "../../shared/metrics/metrics.ts";
import { clientIp } from "../wire/client_ip.ts";
import { encodeRecord } from "../wire/encode_record.ts";
import { peekClient } from "../wire/peek_client.ts";
import { clientAddress, type HttpRecord } from "../wire/record.ts";
import type { ChainRunner, RunnerSinks } from "./chain_runner.ts";
import {
  type BatchBuffers,
  type FromWorker,
  PackedDecisions,
  type ToWorker,
} from "./_worker_protocol.ts";
import { fnv1a, fnv1aIPv4 } from "../../shared/hash/fnv1a.ts";

/** Options of {@linkcode WorkerRunner}. */
export interface WorkerRunnerOptions {
  workers: number;
  settings: Settings;
  global: DomainConfig;
  logLevel: LogLevel;
  sinks: RunnerSinks;
  /** Receives sampled records from the workers' telemetry samplers. */
  publishTelemetry?(json: string): void;
  /** Where the back-pressure and restart counters go (`qts_worker_*`). */
  metrics?: Metrics;
  /** Where a worker's failure is logged; default one JSON line on stderr. */
  log?: Logger;
  /** Starts a chain worker; default chain_worker.ts (tests wrap it to make a worker fail). */
  createWorker?: () => Worker;
  /** Records per batch before it is posted without waiting for the next turn. Default 2048. */
  batchSize?: number;
  /** Batches a worker may have in flight before submit() waits (back-pressure). Default 4. */
  maxInFlight?: number;
}

/** The batch a lane is filling: its records' bodies copied one after another into `bytes`. */
interface Batch extends BatchBuffers {
  count: number;
  size: number;
}

interface Lane {
  /** 1-based worker number (`wrk_<n>`). */
  n: number;
  worker: Worker;
  batch: Batch;
  /** Buffers of answered batches, filled again before new ones are allocated. */
  free: BatchBuffers[];
  /** Each batch in flight, oldest first: its first sequence number, records, first domain. */
  flying: { seq: number; count: number; domainId: number }[];
  /** Ids of the acks and stats replies this worker owes. */
  owed: Set<number>;
  inFlight: number;
  drained: PromiseWithResolvers<void> | undefined;
  stats: StatsSnapshot;
  /** CPU seconds of the worker's thread at its last stats reply. */
  cpu: number;
  /**
   * Decisions of answered batches not yet applied, oldest first. A lane's records are in
   * ingest order, so the lanes' heads merge into record order.
   */
  decided: PackedDecisions[];
}

// 2 MiB of bodies per batch to start with (a record is 0.6-2 KB); a larger one grows it.
// Per-batch costs (post, answer, string table) are paid once for 2,048 records: 1,024 gave
// 1.36× for workers 2 ÷ 0, 2,048 1.43×.
const BATCH_BYTES = 1 << 21;

function newBatch(records: number, bytes = BATCH_BYTES): Batch {
  return {
    count: 0,
    size: 0,
    seqs: new Float64Array(records),
    domains: new Uint32Array(records),
    nows: new Float64Array(records),
    ends: new Uint32Array(records),
    bytes: new Uint8Array(bytes),
  };
}

/** A lane's next empty batch: answered buffers again (their pages are mapped), else new ones. */
function nextBatch(lane: Lane, records: number): Batch {
  const free = lane.free.pop();
  return free ? { ...free, count: 0, size: 0 } : newBatch(records);
}

/**
 * Runs the chains in Web Workers (SPEC §8): records are sharded by client IP (FNV-1a of the
 * client address, so per-IP state lives in one worker). The ingest thread only routes: it reads
 * the client from the wire bytes, copies the bytes into the worker's current batch (a few
 * typed arrays and one buffer of bodies) and posts a full batch with its buffers transferred;
 * the worker decodes, filters and answers each batch with its decisions, drops and telemetry
 * in one message. Decisions reach the list manager in record order whatever the number of
 * workers.
 *
 * A worker that falls behind (maxInFlight batches unanswered) makes submit() wait, which stops
 * the input socket being read: the sensor chooses back-pressure over dropping, because a sensor
 * that sheds records under load lets a flood slip past its rate limits. The proxies' ZeroMQ
 * high-water marks then hold or shed the excess on their side; the waits are counted in
 * `qts_worker_backpressure_total` and `qts_worker_backpressure_seconds_total`.
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
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #statsTimer: ReturnType<typeof setInterval> | undefined;
  readonly #batchSize: number;
  readonly #maxInFlight: number;
  readonly #waits: { value: number };
  readonly #waited: { value: number };
  readonly #restarts: { value: number };
  /** The last configuration each domain's chain was built from (a restarted worker gets them). */
  readonly #configs = new Map<number, DomainConfig>();
  #global: DomainConfig;
  #closing = false;

  constructor(options: WorkerRunnerOptions) {
    this.#o = options;
    this.#batchSize = options.batchSize ?? 2048;
    this.#maxInFlight = options.maxInFlight ?? 4;
    const metrics = options.metrics;
    this.#waits = metrics?.counter(
      "qts_worker_backpressure_total",
      "Times the ingest thread waited for a chain worker to catch up (input not read meanwhile)",
    ) ?? { value: 0 };
    this.#waited = metrics?.counter(
      "qts_worker_backpressure_seconds_total",
      "Seconds the ingest thread spent waiting for chain workers",
    ) ?? { value: 0 };
    this.#restarts = metrics?.counter(
      "qts_worker_restarts_total",
      "Chain workers that died (an uncaught error) and were started again",
    ) ?? { value: 0 };
    this.#global = options.global;
    for (let i = 0; i < Math.max(1, options.workers); i++) {
      const lane: Lane = {
        n: i + 1,
        worker: undefined as unknown as Worker,
        batch: newBatch(this.#batchSize),
        free: [],
        flying: [],
        owed: new Set(),
        inFlight: 0,
        drained: undefined,
        stats: { domains: {}, drops: {} },
        cpu: 0,
        decided: [],
      };
      this.#spawn(lane);
      this.#lanes.push(lane);
    }
    // statstore counters live in the workers; a fresh merged copy a second is enough for
    // /stats and /metrics and costs nothing on the record path.
    this.#statsTimer = setInterval(() => void this.refreshStats(), 1000);
  }

  /** Starts the lane's worker with the current global components and every domain's chain. */
  #spawn(lane: Lane): void {
    const worker = this.#o.createWorker?.() ??
      new Worker(new URL("./chain_worker.ts", import.meta.url), { type: "module" });
    lane.worker = worker;
    // A dead worker's late answers are ignored: its records were counted as lost.
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      if (lane.worker === worker) this.#receive(lane, event.data);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      if (lane.worker === worker) this.#failed(lane, event.message);
    };
    const o = this.#o;
    this.#post(lane, {
      t: "init",
      settings: o.settings,
      global: this.#global,
      worker: lane.n,
      logLevel: o.logLevel,
    });
    // Acks with id 0 are awaited by nobody: the chains were built once already.
    for (const [domainId, config] of this.#configs) {
      this.#post(lane, { t: "configure", id: 0, domainId, config });
    }
  }

  /**
   * A worker died (an uncaught error or rejection ends a Web Worker): the records of its
   * batches in flight are lost and counted as dropped (`worker_failed`), what it owed is
   * settled, and a fresh worker takes its shard with every domain's chain (the shard's per-IP
   * filter state starts over). Without this the ingest thread would wait for it for ever.
   */
  #failed(lane: Lane, error: string): void {
    lane.worker.terminate();
    let lost = 0;
    for (const batch of lane.flying) {
      lost += batch.count;
      for (let i = 0; i < batch.count; i++) {
        this.#o.sinks.drop("worker_failed", batch.domainId, `chain worker ${lane.n} failed`);
      }
    }
    lane.flying = [];
    lane.inFlight = 0;
    for (const id of lane.owed) {
      this.#acks.get(id)?.resolve({ t: "ack", id, error: `chain worker ${lane.n} failed` });
      this.#acks.delete(id);
      this.#statsWaits.get(id)?.resolve(lane.stats);
      this.#statsWaits.delete(id);
    }
    lane.owed.clear();
    lane.drained?.resolve();
    lane.drained = undefined;
    const fields = { worker: `wrk_${lane.n}`, error, records_lost: lost };
    if (this.#o.log) this.#o.log.log("error", "chain worker failed, starting it again", fields);
    else console.error(JSON.stringify({ level: "error", msg: "chain worker failed", ...fields }));
    this.#release();
    if (this.#closing) return;
    this.#restarts.value++;
    this.#spawn(lane);
  }

  #post(lane: Lane, message: ToWorker, transfer: Transferable[] = []): void {
    lane.worker.postMessage(message, transfer);
  }

  #receive(lane: Lane, message: FromWorker): void {
    switch (message.t) {
      case "ack": {
        lane.owed.delete(message.id);
        const wait = this.#acks.get(message.id);
        this.#acks.delete(message.id);
        wait?.resolve(message);
        return;
      }
      case "done": {
        lane.inFlight--;
        lane.flying.shift();
        // Reused rather than allocated: fresh buffers cost page faults on every batch.
        if (
          lane.free.length < this.#maxInFlight &&
          message.buffers.seqs.length === this.#batchSize &&
          message.buffers.bytes.length === BATCH_BYTES
        ) lane.free.push(message.buffers);
        if (message.decisions !== "") {
          lane.decided.push(new PackedDecisions(message.decisions));
        }
        this.#release();
        const sinks = this.#o.sinks;
        for (const drop of message.drops) sinks.drop(drop.reason, drop.domainId, drop.detail);
        if (message.errors > 0) sinks.failed?.(message.errors);
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
        lane.owed.delete(message.id);
        lane.stats = message.snapshot;
        lane.cpu = message.cpu;
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
    let safe = Infinity;
    for (const lane of this.#lanes) {
      const oldest = lane.flying[0]?.seq ??
        (lane.batch.count > 0 ? lane.batch.seqs[0] : undefined);
      if (oldest !== undefined && oldest < safe) safe = oldest;
    }
    for (;;) {
      let next: Lane | undefined;
      let nextSeq = safe;
      for (const lane of this.#lanes) {
        const seq = lane.decided[0]?.seq ?? Infinity;
        if (seq < nextSeq) {
          next = lane;
          nextSeq = seq;
        }
      }
      if (next === undefined) return;
      const head = next.decided[0]!;
      const decision = head.next(next.n);
      if (head.seq === Infinity) next.decided.shift();
      this.#o.sinks.decide(decision);
    }
  }

  async #everyWorker(make: (id: number) => ToWorker): Promise<(FromWorker & { t: "ack" })[]> {
    const waits = this.#lanes.map((lane) => {
      const id = this.#nextId++;
      const wait = Promise.withResolvers<FromWorker & { t: "ack" }>();
      this.#acks.set(id, wait);
      lane.owed.add(id);
      this.#post(lane, make(id));
      return wait.promise;
    });
    return await Promise.all(waits);
  }

  /** A decoded record (its bytes are what a worker decodes; a plain record is encoded). */
  submit(
    domainId: number,
    record: HttpRecord,
    body: Uint8Array,
    now: number,
  ): void | Promise<void> {
    const lane = this.#lanes[fnv1a(clientAddress(record)) % this.#lanes.length]!;
    return this.#append(lane, domainId, body.length > 0 ? body : encodeRecord(record), now);
  }

  /** Wire bytes, decoded by the worker: the ingest thread reads only the client address. */
  submitBody(domainId: number, body: Uint8Array, now: number): void | Promise<void> {
    const client = peekClient(body);
    const hash = typeof client === "number" ? fnv1aIPv4(client) : client === undefined
      ? 0 // malformed: the worker rejects it, any worker will do
      : fnv1a(clientIp(client) ?? client);
    return this.#append(this.#lanes[hash % this.#lanes.length]!, domainId, body, now);
  }

  #append(lane: Lane, domainId: number, body: Uint8Array, now: number): void | Promise<void> {
    let batch = lane.batch;
    if (batch.size + body.length > batch.bytes.length) {
      if (batch.count > 0) this.#flush(lane);
      batch = lane.batch;
      if (body.length > batch.bytes.length) {
        lane.batch = batch = newBatch(this.#batchSize, body.length);
      }
    }
    const i = batch.count++;
    batch.seqs[i] = this.#record++;
    batch.domains[i] = domainId;
    batch.nows[i] = now;
    batch.bytes.set(body, batch.size);
    batch.size += body.length;
    batch.ends[i] = batch.size;
    if (batch.count >= this.#batchSize) this.#flush(lane);
    else this.#flushTimer ??= setTimeout(() => this.flush(), 0);
    if (lane.inFlight >= this.#maxInFlight) return this.#backpressure(lane);
  }

  async #backpressure(lane: Lane): Promise<void> {
    this.#waits.value++;
    const start = performance.now();
    lane.drained ??= Promise.withResolvers<void>();
    await lane.drained.promise;
    this.#waited.value += (performance.now() - start) / 1000;
  }

  /** Posts every partly filled batch now. */
  flush(): void {
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    for (const lane of this.#lanes) if (lane.batch.count > 0) this.#flush(lane);
  }

  #flush(lane: Lane): void {
    const { count, size: _size, ...buffers } = lane.batch;
    const { seqs, domains, nows, ends, bytes } = buffers;
    lane.batch = nextBatch(lane, this.#batchSize);
    lane.flying.push({ seq: seqs[0]!, count, domainId: domains[0]! });
    lane.inFlight++;
    this.#post(lane, { t: "batch", seq: this.#seq++, count, buffers }, [
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
    this.#configs.set(domainId, config);
    this.#steps.set(domainId, acks[0]?.steps ?? []);
    return acks[0]?.skipped ?? [];
  }

  has(domainId: number): boolean {
    return this.#steps.has(domainId);
  }

  setGlobal(global: DomainConfig): void {
    this.flush();
    this.#global = global;
    for (const lane of this.#lanes) this.#post(lane, { t: "global", global });
  }

  async remove(domainId: number): Promise<void> {
    this.flush();
    this.#steps.delete(domainId);
    this.#configs.delete(domainId);
    await this.#everyWorker((id) => ({ t: "remove", id, domainId }));
  }

  sweep(now: number): void {
    this.flush();
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
      lane.owed.add(id);
      this.#post(lane, { t: "stats", id });
      return wait.promise;
    });
    return mergeStats(await Promise.all(waits));
  }

  stats(): StatsSnapshot {
    return mergeStats(this.#lanes.map((lane) => lane.stats));
  }

  /** CPU seconds each worker thread has used, as of its last stats reply (one a second). */
  cpu(): number[] {
    return this.#lanes.map((lane) => lane.cpu);
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
    this.#closing = true;
    this.flush();
    if (this.#statsTimer !== undefined) clearInterval(this.#statsTimer);
    this.#statsTimer = undefined;
    await this.#everyWorker((id) => ({ t: "close", id }));
    for (const lane of this.#lanes) lane.worker.terminate();
    for (const wait of this.#statsWaits.values()) wait.resolve({ domains: {}, drops: {} });
    this.#statsWaits.clear();
  }
}
