/**
 * Runs TrActor jobs off the request path: `workers` Web Workers, each processing one capture at a
 * time, fed by claims on the store's queue (see {@linkcode TractorStore.claimJob}). The queue is
 * the database, not this process: with a shared store (PostgreSQL) several hosts run one queue,
 * each claiming the next job whenever a worker is free, so a job submitted to one host may run
 * on another. A claim carries a lease, renewed while the job runs; a host that dies or hangs past
 * it loses the job to the next claimant. After a restart on an unshared store (SQLite), jobs left
 * in_progress are resumed (run again from the start) or, after too many attempts, failed.
 */
import { hostname } from "node:os";
import type { CaptureFile, CaptureRepository } from "./capture_repository.ts";
import type { JobWorkerMessage, RunJobMessage, StopMessage } from "./_job_worker.ts";
import type { JobClaim, JobRow, TractorStore } from "./tractor_store.ts";
import { type JobOutcome, TractorMetrics } from "./tractor_metrics.ts";

/** Options of {@linkcode JobRunner}. */
export interface JobRunnerOptions {
  store: TractorStore;
  repository: CaptureRepository;
  /** Parallel jobs (one Worker each). Default 1. */
  workers?: number;
  /** Flow timeout for the analyzer (s). Default 120. */
  flowTimeoutSeconds?: number;
  /** Labels YAML (text and file name) for the jobs; default the embedded one. */
  labels?: { text: string; source: string };
  /** Starts a job may take (restarts and expired leases included) before it is failed. Default 3. */
  maxAttempts?: number;
  /** How long a claim holds unless renewed (s); renewed every third of it. Default 60. */
  leaseSeconds?: number;
  /** How often a shared store is asked for jobs other hosts queued (ms). Default 1000. */
  pollMs?: number;
  /** This process in `claimed_by`. Default `<hostname>:<pid>`. */
  claimant?: string;
  /** Unix seconds. */
  now?: () => number;
  /** One line per job event. */
  log?: (line: string) => void;
  /** Where jobs, claims and leases are counted (default: a registry of its own). */
  metrics?: TractorMetrics;
}

interface Slot {
  worker: Worker | undefined;
  claim: JobClaim | undefined;
  /** Size of the running job's capture, and the last progress tenth logged. */
  sizeBytes: number;
  loggedTenth: number;
  /** `performance.now()` at the claim, for the job's duration. */
  claimedAt: number;
}

/** `host:pid` of this process (`--allow-sys=hostname` may be withheld: then "localhost"). */
export function defaultClaimant(): string {
  let host = "localhost";
  try {
    host = hostname();
  } catch {
    // no permission to read the host name
  }
  return `${host}:${Deno.pid}`;
}

/** Queue and workers of TrActor jobs. */
export class JobRunner {
  readonly #store: TractorStore;
  readonly #repository: CaptureRepository;
  readonly #slots: Slot[];
  readonly #timeout: number;
  readonly #labels: { text: string; source: string } | undefined;
  readonly #maxAttempts: number;
  readonly #leaseSeconds: number;
  readonly #pollMs: number;
  readonly #now: () => number;
  readonly #log: (line: string) => void;
  readonly #waiters = new Map<number, ((job: JobRow) => void)[]>();
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  #pumping: Promise<void> | undefined;
  #pumpAgain = false;
  #closed = false;
  /** This process in `claimed_by`. */
  readonly claimant: string;
  /** Jobs, claims, leases and what the job workers counted. */
  readonly metrics: TractorMetrics;

  constructor(options: JobRunnerOptions) {
    this.#store = options.store;
    this.#repository = options.repository;
    const n = options.workers ?? 1;
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`Invalid TrActor workers ${n}: expected a positive integer`);
    }
    this.#slots = Array.from({ length: n }, () => ({
      worker: undefined,
      claim: undefined,
      sizeBytes: 0,
      loggedTenth: 0,
      claimedAt: 0,
    }));
    this.#timeout = options.flowTimeoutSeconds ?? 120;
    this.#labels = options.labels;
    this.#maxAttempts = options.maxAttempts ?? 3;
    this.#leaseSeconds = options.leaseSeconds ?? 60;
    if (!(this.#leaseSeconds >= 3)) {
      throw new RangeError(`Invalid TrActor lease ${this.#leaseSeconds} s: expected at least 3`);
    }
    this.#pollMs = options.pollMs ?? 1000;
    this.claimant = options.claimant ?? defaultClaimant();
    this.#now = options.now ?? (() => Math.floor(Date.now() / 1000));
    this.#log = options.log ?? (() => {});
    this.metrics = options.metrics ?? new TractorMetrics();
  }

  /** Recovers interrupted jobs (unshared store), starts queued ones, and keeps leases alive. */
  async start(): Promise<void> {
    if (!this.#store.shared) {
      const { resumed, failed } = await this.#store.recoverInterrupted(
        this.#now(),
        this.#maxAttempts,
      );
      for (const id of resumed) this.#log(`job ${id} resumed after a restart`);
      for (const id of failed) {
        this.#log(`job ${id} failed: interrupted too often`);
        this.metrics.jobEnded("interrupted");
      }
    }
    this.#every(this.#leaseSeconds * 1000 / 3, () => this.#renewLeases());
    if (this.#store.shared) this.#every(this.#pollMs, () => this.#poll());
    await this.#pump();
  }

  #every(ms: number, fn: () => Promise<void>): void {
    let busy = false;
    const id = setInterval(() => {
      if (busy || this.#closed) return;
      busy = true;
      fn().catch((error) => this.#log(`job runner: ${(error as Error).message}`))
        .finally(() => busy = false);
    }, ms);
    this.#timers.push(id);
  }

  /**
   * Asks for `file` to be processed. A job already queued or running for it is returned as is;
   * so is a finished one when the file is unchanged (same size and mtime) and `force` is not
   * set. Otherwise a new job is queued, and claimed at once when a worker here is free.
   */
  async submit(file: CaptureFile, force = false): Promise<JobRow> {
    if (this.#closed) throw new Error("Cannot submit a TrActor job: the runner is closed");
    const latest = await this.#store.latestJob(file.name);
    if (
      latest && (latest.state === "new" || latest.state === "in_progress" ||
        latest.state === "finished" && !force && latest.sizeBytes === file.sizeBytes &&
          latest.mtimeMs === Math.round(file.mtimeMs))
    ) {
      this.metrics.submitted("reused");
      return latest;
    }
    const job = await this.#store.createJob(file, this.#now());
    this.metrics.submitted("queued");
    this.#log(`job ${job.id} queued for "${file.name}"`);
    await this.#pump();
    return await this.#store.job(job.id) ?? job;
  }

  /** Resolves with the job once it is finished or failed (here or, shared, on any host). */
  async waitFor(jobId: number): Promise<JobRow> {
    const job = await this.#store.job(jobId);
    if (!job) throw new RangeError(`No TrActor job ${jobId}`);
    if (job.state === "finished" || job.state === "failed") return job;
    return await new Promise((resolve) => {
      const list = this.#waiters.get(jobId) ?? [];
      list.push(resolve);
      this.#waiters.set(jobId, list);
    });
  }

  /**
   * Stops the workers; a running job goes back to the queue, to resume at the next start (or on
   * another host). Each worker is asked to stop between two writes and close its database
   * first; one that does not answer within `graceMs` is terminated.
   */
  async close(graceMs = 30_000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of this.#timers) clearInterval(id);
    await this.#pumping;
    await Promise.all(this.#slots.map(async (slot) => {
      await this.#stopWorker(slot, graceMs);
      const claim = slot.claim;
      if (claim !== undefined) {
        slot.claim = undefined;
        await this.#store.requeueJob(claim).catch(() => false);
        this.#log(`job ${claim.jobId} stopped; it resumes at the next start`);
      }
    }));
  }

  async #stopWorker(slot: Slot, graceMs: number): Promise<void> {
    const worker = slot.worker;
    if (!worker) return;
    slot.worker = undefined;
    const stopped = new Promise<void>((resolve) => {
      worker.addEventListener("message", (e: MessageEvent<JobWorkerMessage>) => {
        if (e.data.type === "stopped") resolve();
      });
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop: StopMessage = { type: "stop" };
    worker.postMessage(stop);
    await Promise.race([stopped, new Promise((r) => timer = setTimeout(r, graceMs))]);
    clearTimeout(timer);
    worker.terminate();
  }

  /** Claims jobs for every free worker; concurrent calls share one pass (and ask for another). */
  #pump(): Promise<void> {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return this.#pumping;
    }
    const pass = async () => {
      do {
        this.#pumpAgain = false;
        for (const slot of this.#slots) {
          if (this.#closed) return;
          if (slot.claim !== undefined) continue;
          const r = await this.#store.claimJob(this.claimant, this.#now(), {
            leaseSeconds: this.#leaseSeconds,
            maxAttempts: this.#maxAttempts,
          }).catch((error) => {
            this.metrics.claim("error");
            throw error;
          });
          for (const id of r.failed) {
            this.#log(`job ${id} failed: abandoned too often`);
            this.metrics.leaseExpired("given_up");
            this.metrics.jobEnded("abandoned");
            await this.#settle(id);
          }
          if (!r.job || !r.claim) {
            this.metrics.claim("none");
            break;
          }
          if (r.takenOverFrom !== undefined) {
            this.#log(`job ${r.job.id} resumed: the lease of ${r.takenOverFrom} expired`);
            this.metrics.claim("taken_over");
            this.metrics.leaseExpired("taken_over");
          } else {
            this.metrics.claim("queued");
          }
          slot.claim = r.claim;
          slot.sizeBytes = r.job.sizeBytes;
          slot.loggedTenth = 0;
          slot.claimedAt = performance.now();
          this.#log(`job ${r.job.id} started on "${r.job.fileName}" by ${this.claimant}`);
          void this.#dispatch(slot, r.claim, r.job.fileName);
        }
      } while (this.#pumpAgain && !this.#closed);
    };
    this.#pumping = pass().catch((error) => {
      this.#log(`job runner: cannot claim a job: ${(error as Error).message}`);
    }).finally(() => this.#pumping = undefined);
    return this.#pumping;
  }

  /** Shared store: jobs other hosts queued, and jobs waited for that other hosts ran. */
  async #poll(): Promise<void> {
    await this.#pump();
    const local = new Set(this.#slots.map((s) => s.claim?.jobId));
    for (const id of [...this.#waiters.keys()]) {
      if (!local.has(id)) await this.#settle(id);
    }
  }

  async #renewLeases(): Promise<void> {
    for (const slot of this.#slots) {
      const claim = slot.claim;
      if (claim === undefined) continue;
      const renewed = await this.#store.renewLease(claim, this.#now(), this.#leaseSeconds)
        .catch((error) => {
          this.metrics.leaseRenewal("error");
          throw error;
        });
      if (renewed) {
        this.metrics.leaseRenewal("renewed");
        continue;
      }
      if (slot.claim !== claim) continue; // it ended meanwhile
      // The worker may have just finished (or failed) the job under this very claim, its message
      // still on the way: the job ended here, it was not lost.
      const row = await this.#store.job(claim.jobId).catch(() => undefined);
      if (
        row !== undefined && (row.state === "finished" || row.state === "failed") &&
        row.claimedBy === claim.by && row.attempts === claim.attempt
      ) {
        continue;
      }
      if (slot.claim !== claim) continue;
      this.#log(`job ${claim.jobId}: lease lost to another host; abandoned here`);
      this.metrics.leaseRenewal("lost");
      this.metrics.jobEnded("lost", (performance.now() - slot.claimedAt) / 1000);
      slot.claim = undefined;
      await this.#stopWorker(slot, 5_000);
      void this.#pump();
    }
  }

  async #dispatch(slot: Slot, claim: JobClaim, fileName: string): Promise<void> {
    const file = await this.#repository.resolve(fileName);
    if (this.#closed || slot.claim !== claim) return;
    if (!file) {
      await this.#end(slot, claim, {
        message: `capture "${fileName}" is no longer in the repository`,
        outcome: "missing",
      });
      return;
    }
    if (!slot.worker) slot.worker = this.#spawn(slot);
    const message: RunJobMessage = {
      type: "run",
      claim,
      path: file.path,
      store: this.#store.location,
      flowTimeoutSeconds: this.#timeout,
      ...(this.#labels ? { labels: this.#labels } : {}),
    };
    slot.worker.postMessage(message);
  }

  #spawn(slot: Slot): Worker {
    const worker = new Worker(new URL("./_job_worker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (event: MessageEvent<JobWorkerMessage>) => {
      const m = event.data;
      const claim = slot.claim;
      if (m.type === "stopped" || claim === undefined || m.jobId !== claim.jobId) return;
      if (m.type === "progress") {
        const tenth = slot.sizeBytes > 0 ? Math.floor((m.bytesRead / slot.sizeBytes) * 10) : 0;
        if (tenth > slot.loggedTenth && tenth < 10) {
          slot.loggedTenth = tenth;
          this.#log(`job ${m.jobId} progress ${tenth * 10}%`);
        }
        return;
      }
      this.metrics.tally(m.tally);
      void this.#end(
        slot,
        claim,
        m.type === "failed"
          ? { message: m.message, outcome: m.outcome }
          : { outcome: m.tally.captureError !== null ? "partial" : "finished" },
      );
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      worker.terminate();
      if (slot.worker === worker) slot.worker = undefined;
      if (slot.claim !== undefined) {
        void this.#end(slot, slot.claim, {
          message: `worker crashed: ${event.message}`,
          outcome: "crashed",
        });
      }
    };
    return worker;
  }

  /** Ends a job held here: finished by its worker, or failed with `end.message`. */
  async #end(
    slot: Slot,
    claim: JobClaim,
    end: { message?: string; outcome: JobOutcome },
  ): Promise<void> {
    if (slot.claim !== claim) return;
    slot.claim = undefined;
    this.metrics.jobEnded(end.outcome, (performance.now() - slot.claimedAt) / 1000);
    const jobId = claim.jobId;
    const failure = end.message;
    if (failure !== undefined) {
      try {
        await this.#store.failJob(jobId, this.#now(), failure, claim);
      } catch (error) {
        this.#log(`job ${jobId}: cannot record the failure: ${(error as Error).message}`);
      }
    }
    const job = await this.#store.job(jobId).catch(() => undefined);
    this.#log(
      failure === undefined
        ? `job ${jobId} finished: ${job?.flowsCount ?? 0} flows`
        : `job ${jobId} failed: ${failure}`,
    );
    await this.#settle(jobId);
    await this.#pump();
  }

  /** Resolves the waiters of a job once it has ended. */
  async #settle(jobId: number): Promise<void> {
    const waiters = this.#waiters.get(jobId);
    if (!waiters) return;
    const job = await this.#store.job(jobId).catch(() => undefined);
    if (!job || (job.state !== "finished" && job.state !== "failed")) return;
    this.#waiters.delete(jobId);
    for (const w of waiters) w(job);
  }
}
