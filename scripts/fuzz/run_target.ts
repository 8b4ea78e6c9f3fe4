/**
 * The fuzz loop: inputs from `(seed, index)` through a target until the count or the time
 * bound, whichever comes first; the first failing input stops the run and is returned.
 * @module
 */

import { inputRng } from "./_random.ts";
import type { FuzzTarget } from "./_target.ts";

/** Options of {@linkcode runTarget}. */
export interface RunOptions {
  seed: number;
  /** Stop after this many inputs. */
  count: number;
  /** Stop after this many seconds (checked between inputs). Default: no bound. */
  seconds?: number;
  /** First input index (to resume or replay). Default 0. */
  start?: number;
  /** Called about every `progressMs` with the inputs done so far. */
  onProgress?: (done: number, elapsedMs: number) => void;
  /** Default 2000. */
  progressMs?: number;
  /** When given, slot 0 holds the index being checked (a watchdog outside reads it). */
  current?: Int32Array;
}

/** What a run did. */
export interface RunResult {
  target: string;
  seed: number;
  inputs: number;
  elapsedMs: number;
  stoppedBy: "count" | "time" | "failure";
  failure?: { index: number; input: Uint8Array; error: unknown };
}

/** Runs `target` over generated inputs; never throws for a failing input (see `failure`). */
export async function runTarget(target: FuzzTarget, options: RunOptions): Promise<RunResult> {
  const { seed, count } = options;
  const start = options.start ?? 0;
  const limitMs = options.seconds === undefined ? Infinity : options.seconds * 1000;
  const progressMs = options.progressMs ?? 2000;
  const t0 = performance.now();
  let nextProgress = t0 + progressMs;
  let done = 0;
  const result = (stoppedBy: RunResult["stoppedBy"]): RunResult => ({
    target: target.name,
    seed,
    inputs: done,
    elapsedMs: performance.now() - t0,
    stoppedBy,
  });
  while (done < count) {
    // The clock is read every 64 inputs: performance.now() costs more than a wire input.
    if ((done & 63) === 0) {
      const now = performance.now();
      if (now - t0 >= limitMs) return result("time");
      if (now >= nextProgress) {
        nextProgress = now + progressMs;
        options.onProgress?.(done, now - t0);
        // Let timers (the watchdog, progress messages) run between batches.
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    }
    const index = start + done;
    if (options.current) options.current[0] = index;
    const input = target.generate(inputRng(seed, index), index);
    try {
      const pending = target.check(input);
      if (pending !== undefined) await pending;
    } catch (error) {
      return { ...result("failure"), failure: { index, input, error } };
    }
    done++;
  }
  return result("count");
}
