/**
 * Runs TrActor jobs off the request path: a queue in the database, and `workers` Web Workers that
 * each process one capture at a time. After a restart, jobs left in_progress are resumed (run
 * again from the start) or, after too many attempts, failed: never left in_progress.
 */
import type { CaptureFile, CaptureRepository } from "./capture_repository.ts";
import type { JobWorkerMessage, RunJobMessage, StopMessage } from "./_job_worker.ts";
import type { JobRow, TractorStore } from "./tractor_store.ts";

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
  /** Starts a job may take (restarts included) before it is failed. Default 3. */
  maxAttempts?: number;
  /** Unix seconds. */
  now?: () => number;
  /** One line per job event. */
  log?: (line: string) => void;
}

interface Slot {
  worker: Worker | undefined;
  jobId: number | undefined;
  /** Size of the running job's capture, and the last progress tenth logged. */
  sizeBytes: number;
  loggedTenth: number;
}

/** Queue and workers of TrActor jobs. */
export class JobRunner {
  readonly #store: TractorStore;
  readonly #repository: CaptureRepository;
  readonly #slots: Slot[];
  readonly #timeout: number;
  readonly #labels: { text: string; source: string } | undefined;
  readonly #maxAttempts: number;
  readonly #now: () => number;
  readonly #log: (line: string) => void;
  readonly #queue: number[] = [];
  readonly #waiters = new Map<number, ((job: JobRow) => void)[]>();
  #closed = false;

  constructor(options: JobRunnerOptions) {
    this.#store = options.store;
    this.#repository = options.repository;
    const n = options.workers ?? 1;
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`Invalid TrActor workers ${n}: expected a positive integer`);
    }
    this.#slots = Array.from({ length: n }, () => ({
      worker: undefined,
      jobId: undefined,
      sizeBytes: 0,
      loggedTenth: 0,
    }));
    this.#timeout = options.flowTimeoutSeconds ?? 120;
    this.#labels = options.labels;
    this.#maxAttempts = options.maxAttempts ?? 3;
    this.#now = options.now ?? (() => Math.floor(Date.now() / 1000));
    this.#log = options.log ?? (() => {});
  }

  /** Recovers interrupted jobs and starts the queued ones. */
  start(): void {
    const { resumed, failed } = this.#store.recoverInterrupted(this.#now(), this.#maxAttempts);
    for (const id of resumed) this.#log(`job ${id} resumed after a restart`);
    for (const id of failed) this.#log(`job ${id} failed: interrupted too often`);
    this.#queue.push(...this.#store.queuedJobs());
    this.#pump();
  }

  /**
   * Asks for `file` to be processed. A job already queued or running for it is returned as is;
   * so is a finished one when the file is unchanged (same size and mtime) and `force` is not
   * set. Otherwise a new job is queued, and started at once when a worker is free.
   */
  submit(file: CaptureFile, force = false): JobRow {
    if (this.#closed) throw new Error("Cannot submit a TrActor job: the runner is closed");
    const latest = this.#store.latestJob(file.name);
    if (latest && (latest.state === "new" || latest.state === "in_progress")) return latest;
    if (
      latest && latest.state === "finished" && !force && latest.sizeBytes === file.sizeBytes &&
      latest.mtimeMs === Math.round(file.mtimeMs)
    ) {
      return latest;
    }
    const job = this.#store.createJob(file, this.#now());
    this.#log(`job ${job.id} queued for "${file.name}"`);
    this.#queue.push(job.id);
    this.#pump();
    return this.#store.job(job.id) ?? job;
  }

  /** Resolves with the job once it is finished or failed. */
  waitFor(jobId: number): Promise<JobRow> {
    const job = this.#store.job(jobId);
    if (!job) return Promise.reject(new RangeError(`No TrActor job ${jobId}`));
    if (job.state === "finished" || job.state === "failed") return Promise.resolve(job);
    return new Promise((resolve) => {
      const list = this.#waiters.get(jobId) ?? [];
      list.push(resolve);
      this.#waiters.set(jobId, list);
    });
  }

  /**
   * Stops the workers; a running job goes back to the queue, to resume at the next start. Each
   * worker is asked to stop between two writes and close its database first; one that does not
   * answer within `graceMs` is terminated.
   */
  async close(graceMs = 30_000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#slots.map(async (slot) => {
      const worker = slot.worker;
      if (worker) {
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
        slot.worker = undefined;
      }
      if (slot.jobId !== undefined) {
        this.#store.requeueJob(slot.jobId);
        this.#log(`job ${slot.jobId} stopped; it resumes at the next start`);
        slot.jobId = undefined;
      }
    }));
  }

  #pump(): void {
    if (this.#closed) return;
    for (const slot of this.#slots) {
      if (slot.jobId !== undefined) continue;
      let id: number | undefined;
      let job: JobRow | undefined;
      while ((id = this.#queue.shift()) !== undefined) {
        job = this.#store.job(id);
        if (job?.state === "new") break;
      }
      if (id === undefined || job === undefined) return;
      // Marked in_progress synchronously, so the request that queued it reports it running.
      this.#store.startJob(id, this.#now());
      slot.jobId = id;
      slot.sizeBytes = job.sizeBytes;
      slot.loggedTenth = 0;
      this.#log(`job ${id} started on "${job.fileName}"`);
      void this.#dispatch(slot, id, job.fileName);
    }
  }

  async #dispatch(slot: Slot, jobId: number, fileName: string): Promise<void> {
    const file = await this.#repository.resolve(fileName);
    if (this.#closed || slot.jobId !== jobId) return;
    if (!file) {
      this.#end(slot, jobId, `capture "${fileName}" is no longer in the repository`);
      return;
    }
    if (!slot.worker) slot.worker = this.#spawn(slot);
    const message: RunJobMessage = {
      type: "run",
      jobId,
      path: file.path,
      dbPath: this.#store.path,
      flowTimeoutSeconds: this.#timeout,
      ...(this.#labels ? { labels: this.#labels } : {}),
    };
    slot.worker.postMessage(message);
  }

  #spawn(slot: Slot): Worker {
    const worker = new Worker(new URL("./_job_worker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (event: MessageEvent<JobWorkerMessage>) => {
      const m = event.data;
      if (m.type === "stopped" || m.jobId !== slot.jobId) return;
      if (m.type === "progress") {
        const tenth = slot.sizeBytes > 0 ? Math.floor((m.bytesRead / slot.sizeBytes) * 10) : 0;
        if (tenth > slot.loggedTenth && tenth < 10) {
          slot.loggedTenth = tenth;
          this.#log(`job ${m.jobId} progress ${tenth * 10}%`);
        }
        return;
      }
      this.#end(slot, m.jobId, m.type === "failed" ? m.message : undefined);
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      worker.terminate();
      if (slot.worker === worker) slot.worker = undefined;
      if (slot.jobId !== undefined) {
        this.#end(slot, slot.jobId, `worker crashed: ${event.message}`);
      }
    };
    return worker;
  }

  #end(slot: Slot, jobId: number, failure: string | undefined): void {
    slot.jobId = undefined;
    if (failure !== undefined) {
      try {
        this.#store.failJob(jobId, this.#now(), failure);
      } catch (error) {
        this.#log(`job ${jobId}: cannot record the failure: ${(error as Error).message}`);
      }
    }
    const job = this.#store.job(jobId);
    this.#log(
      failure === undefined
        ? `job ${jobId} finished: ${job?.flowsCount ?? 0} flows`
        : `job ${jobId} failed: ${failure}`,
    );
    const waiters = this.#waiters.get(jobId) ?? [];
    this.#waiters.delete(jobId);
    if (job) { for (const w of waiters) w(job); }
    this.#pump();
  }
}
