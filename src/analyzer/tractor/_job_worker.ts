/**
 * Web Worker entry of TrActor jobs: opens its own connection to the store (the SQLite file or the
 * PostgreSQL URL) and runs one capture at a time as the runner asks, under the runner's claim,
 * reporting progress and the outcome by message.
 */
/// <reference lib="deno.worker" />
import { processCapture } from "./process_capture.ts";
import { type JobClaim, LostClaimError, TractorStore } from "./tractor_store.ts";
import { JobTally, type JobTallyData } from "./job_tally.ts";
import type { JobOutcome } from "./tractor_metrics.ts";
import { CaptureError } from "../../shared/capture/capture_error.ts";

/** Runner → worker. */
export interface RunJobMessage {
  type: "run";
  /** The runner's claim on the job: every write checks it. */
  claim: JobClaim;
  path: string;
  /** The store's location (file path or `postgres://` URL). */
  store: string;
  flowTimeoutSeconds: number;
  /** Labels YAML given with --labels (text and file name); absent = the embedded one. */
  labels?: { text: string; source: string };
}

/** Runner → worker: stop the running job (if any), close the database, answer "stopped". */
export interface StopMessage {
  type: "stop";
}

/** Worker → runner. */
export type JobWorkerMessage =
  | { type: "progress"; jobId: number; bytesRead: number }
  | { type: "done"; jobId: number; flows: number; tally: JobTallyData }
  | { type: "failed"; jobId: number; message: string; outcome: JobOutcome; tally: JobTallyData }
  | { type: "stopped" };

let store: TractorStore | undefined;
let running: { abort: AbortController; finished: Promise<void> } | undefined;
/** The running job's counts; the store's errors land in it. */
let tally = new JobTally();
/** Errors the store reported, to tell a store failure from others. */
const storeErrors = new WeakSet<object>();

function failure(error: unknown): JobOutcome {
  if (error instanceof CaptureError) return "unreadable";
  if (error instanceof LostClaimError) return "lost";
  if (error instanceof Deno.errors.NotFound) return "missing";
  if (typeof error === "object" && error !== null && storeErrors.has(error)) return "store";
  return "error";
}

function post(message: JobWorkerMessage): void {
  self.postMessage(message);
}

// A stop aborts the job and waits for it to end, so it never lands inside a transaction
// (Worker.terminate() could, leaving a SQLite file locked).
async function stop(): Promise<void> {
  if (running) {
    running.abort.abort();
    await running.finished;
  }
  await store?.close();
  store = undefined;
  post({ type: "stopped" });
}

async function run(m: RunJobMessage, signal: AbortSignal): Promise<void> {
  const jobId = m.claim.jobId;
  const counts = tally = new JobTally();
  try {
    store ??= await TractorStore.open(m.store, {
      connections: 2,
      onError: (operation, kind, error) => {
        tally.storeError(operation, kind);
        if (typeof error === "object" && error !== null) storeErrors.add(error);
      },
    }).catch((error) => {
      // Cannot even connect: a store failure too.
      if (typeof error === "object" && error !== null) storeErrors.add(error);
      throw error;
    });
    let lastPost = 0;
    const { flows } = await processCapture(store, m.claim, m.path, {
      signal,
      tally: counts,
      flowTimeoutSeconds: m.flowTimeoutSeconds,
      ...(m.labels ? { labels: m.labels } : {}),
      onProgress: (bytesRead) => {
        // Progress is also in the database; messages are for logs and waiting tests.
        const t = Date.now();
        if (t - lastPost < 250) return;
        lastPost = t;
        post({ type: "progress", jobId, bytesRead });
      },
    });
    post({ type: "done", jobId, flows, tally: counts.data() });
  } catch (error) {
    if (signal.aborted) return; // the runner requeues it
    post({
      type: "failed",
      jobId,
      message: error instanceof Error ? error.message : String(error),
      outcome: failure(error),
      tally: counts.data(),
    });
  }
}

self.onmessage = (event: MessageEvent<RunJobMessage | StopMessage>) => {
  const m = event.data;
  if (m?.type === "stop") {
    void stop();
  } else if (m?.type === "run") {
    const abort = new AbortController();
    const job = { abort, finished: run(m, abort.signal) };
    running = job;
    void job.finished.finally(() => {
      if (running === job) running = undefined;
    });
  }
};
