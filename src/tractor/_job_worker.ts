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

/** Worker → runner. */
export type JobWorkerMessage =
  | { type: "progress"; jobId: number; bytesRead: number }
  | { type: "done"; jobId: number; flows: number }
  | { type: "failed"; jobId: number; message: string };

let store: TractorStore | undefined;

function post(message: JobWorkerMessage): void {
  self.postMessage(message);
}

self.onmessage = async (event: MessageEvent<RunJobMessage>) => {
  const m = event.data;
  if (m?.type !== "run") return;
  try {
    store ??= new TractorStore(m.dbPath);
    let lastPost = 0;
    const { flows } = await processCapture(store, m.jobId, m.path, {
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
    post({
      type: "failed",
      jobId: m.jobId,
      message: error instanceof Error ? error.message : String(error),
    });
  }
};
