/**
 * Runs one fuzz target inside a Web Worker, so the main thread can stop a target that hangs
 * (even in a synchronous loop) and still name the input: slot 0 of the shared array holds the
 * index being checked.
 * @module
 */

/// <reference lib="deno.worker" />

import { createRng } from "./_random.ts";
import { runTarget } from "./run_target.ts";
import { type TargetName, targets } from "./targets.ts";

/** The job the main thread posts. */
export interface WorkerJob {
  target: TargetName;
  seed: number;
  count: number;
  seconds: number;
  root: string;
  loopbackInputs?: number;
  shared: SharedArrayBuffer;
}

/** Messages back to the main thread. */
export type WorkerReport =
  | { type: "progress"; done: number; elapsedMs: number; heapMb: number }
  | {
    type: "result";
    inputs: number;
    elapsedMs: number;
    stoppedBy: string;
    kinds: Record<string, number>;
    heapMb: number;
    failure?: { index: number; input: Uint8Array; error: string; phase: string };
  };

function heapMb(): number {
  return Math.round(Deno.memoryUsage().heapUsed / 1048576);
}

self.onmessage = async (event: MessageEvent<WorkerJob>) => {
  const job = event.data;
  const current = new Int32Array(job.shared);
  const target = targets(job.target, {
    root: job.root,
    ...(job.loopbackInputs === undefined ? {} : { loopbackInputs: job.loopbackInputs }),
  });
  const post = (report: WorkerReport) => self.postMessage(report);
  const result = await runTarget(target, {
    seed: job.seed,
    count: job.count,
    seconds: job.seconds,
    current,
    progressMs: 1000,
    onProgress: (done, elapsedMs) => post({ type: "progress", done, elapsedMs, heapMb: heapMb() }),
  });
  let failure: (WorkerReport & { type: "result" })["failure"];
  if (result.failure) {
    const { index, input, error } = result.failure;
    failure = { index, input, error: describe(error), phase: "input" };
  } else if (target.finish) {
    current[0] = -1;
    try {
      await target.finish(createRng(job.seed ^ 0x5f5f));
    } catch (error) {
      failure = { index: -1, input: new Uint8Array(0), error: describe(error), phase: "finish" };
    }
  }
  await target.close?.();
  post({
    type: "result",
    inputs: result.inputs,
    elapsedMs: result.elapsedMs,
    stoppedBy: result.stoppedBy,
    kinds: { ...target.kinds },
    heapMb: heapMb(),
    ...(failure ? { failure } : {}),
  });
};

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  let text = error.stack ?? `${error.name}: ${error.message}`;
  if (error.cause instanceof Error) text += `\ncaused by: ${error.cause.stack ?? error.cause}`;
  return text;
}
