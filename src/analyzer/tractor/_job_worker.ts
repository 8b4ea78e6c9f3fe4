/**
 * Web Worker entry of TrActor jobs: opens its own connection to the state database and runs one
 * capture at a time as the runner asks, reporting progress and the outcome by message.
 */
/// <reference lib="deno.worker" />
import { processCapture } from "./process_capture.ts";
import { TractorStore } from "./tractor_store.ts";

/** Runner → worker. */
export interface RunJobMessage {
  type: "run";
  jobId: number;
  path: string;
  dbPath: string;
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
  | { type: "done"; jobId: number; flows: number }
  | { type: "failed"; jobId: number; message: string }
  | { type: "stopped" };

let store: TractorStore | undefined;
let running: { abort: AbortController; finished: Promise<void> } | undefined;

function post(message: JobWorkerMessage): void {
  self.postMessage(message);
}

// A message handler only runs between tasks, and every SQLite transaction here is synchronous, so
// a stop never lands inside a transaction (Worker.terminate() could, leaving the file locked).
async function stop(): Promise<void> {
  if (running) {
    running.abort.abort();
    await running.finished;
  }
  store?.close();
  store = undefined;
  post({ type: "stopped" });
}

async function run(m: RunJobMessage, signal: AbortSignal): Promise<void> {
  try {
    store ??= new TractorStore(m.dbPath);
    let lastPost = 0;
    const { flows } = await processCapture(store, m.jobId, m.path, {
      signal,
      flowTimeoutSeconds: m.flowTimeoutSeconds,
      ...(m.labels ? { labels: m.labels } : {}),
      onProgress: (bytesRead) => {
        // Progress is also in the database; messages are for logs and waiting tests.
        const t = Date.now();
        if (t - lastPost < 250) return;
        lastPost = t;
        post({ type: "progress", jobId: m.jobId, bytesRead });
      },
    });
    post({ type: "done", jobId: m.jobId, flows });
  } catch (error) {
    if (signal.aborted) return; // the runner requeues it
    post({
      type: "failed",
      jobId: m.jobId,
      message: error instanceof Error ? error.message : String(error),
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
