import type { LocalRunner } from "./local_runner.ts";

/** Most queued input messages run as one chain batch by default. */
export const INPUT_BATCH = 64;

/** Options of {@linkcode InputDrain}. */
export interface InputDrainOptions {
  /** One message through the pipeline; never throws. A promise: wait before the next. */
  ingest(frames: Uint8Array[]): void | Promise<void>;
  /** The runner that batches (hold/release); undefined runs each message as it comes. */
  runner: LocalRunner | undefined;
  /** A batch whose chain raised (its records are left undecided): count and log it. */
  failed(error: unknown): void;
  /** Most messages one drain takes. Default {@linkcode INPUT_BATCH}. */
  max?: number;
}

/**
 * Runs what an input has already received as one chain batch (Lua entered once for it) and
 * decides it as soon as that backlog is through: a lone message is decided at once, a burst in
 * batches, and nothing ever waits for more traffic. No hold spans an await: a message whose
 * handling waits (a domain's first chain, a full set of in-flight chains) ends the batch first.
 */
export class InputDrain {
  readonly #o: InputDrainOptions;
  readonly #max: number;
  #gathering = false;

  constructor(options: InputDrainOptions) {
    this.#o = options;
    this.#max = Math.max(1, options.max ?? INPUT_BATCH);
  }

  /** Ingests `first` and what `next` has queued behind it (never waiting), up to `max`. */
  async drain(first: Uint8Array[], next: () => Uint8Array[] | undefined): Promise<void> {
    const runner = this.#o.runner;
    let frames: Uint8Array[] | undefined = first;
    let taken = 1;
    while (frames) {
      let pending: void | Promise<void> = undefined;
      runner?.hold();
      try {
        while (frames && !pending) {
          pending = this.#o.ingest(frames);
          frames = taken < this.#max ? next() : undefined;
          if (frames) taken++;
        }
      } finally {
        pending = this.release(pending);
      }
      if (pending) await pending;
    }
  }

  /**
   * For an input that hands over one record per callback (the in-process proxy): holds the
   * runner until the microtasks queued by now have run, so the records that callbacks of this
   * event-loop turn hand over run as one batch, before any I/O or timer. `wait` receives what
   * that batch waits for (full in-flight chains), if anything.
   */
  gather(wait: (pending: Promise<void>) => void): void {
    const runner = this.#o.runner;
    if (this.#gathering || runner === undefined) return;
    this.#gathering = true;
    runner.hold();
    queueMicrotask(() => {
      this.#gathering = false;
      const pending = this.release();
      if (pending) wait(pending);
    });
  }

  /**
   * Ends a hold of the runner (see LocalRunner.hold); returns what both the runner's batch and
   * `pending` wait for, if anything.
   */
  release(pending?: void | Promise<void>): void | Promise<void> {
    let flushed: void | Promise<void> = undefined;
    try {
      flushed = this.#o.runner?.release();
    } catch (error) {
      this.#o.failed(error);
    }
    if (!flushed) return pending;
    return pending ? Promise.all([pending, flushed]).then(() => {}) : flushed;
  }
}
