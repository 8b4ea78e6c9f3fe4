/**
 * The contract every fuzz target meets: inputs are bytes generated from a seeded generator and
 * checked by a function that throws {@linkcode PropertyError} (or anything unexpected) when a
 * property fails. The first byte of an input is the target's selector (which API, which
 * options), so a saved input file replays alone.
 * @module
 */

import type { Rng } from "./_random.ts";

/** A fuzz target: how to make an input and how to check what the code under test does with it. */
export interface FuzzTarget {
  readonly name: string;
  /** Builds input `index`; `rng` is derived from the run's seed and the index. */
  generate(rng: Rng, index: number): Uint8Array;
  /** Runs the code under test on `input`; throws when a property fails. */
  check(input: Uint8Array): void | Promise<void>;
  /** Counts by input kind (selector), for the report. */
  readonly kinds?: Record<string, number>;
  /** A final check over the whole run (e.g. memory, other peers still served). */
  finish?(rng: Rng): Promise<void>;
  /** Releases sockets and timers. */
  close?(): Promise<void>;
}

/** A property of the code under test does not hold for an input. */
export class PropertyError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PropertyError";
  }
}

/** Throws {@linkcode PropertyError} with `message` unless `condition`. */
export function property(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new PropertyError(typeof message === "string" ? message : message());
}

/**
 * Messages V8 gives to errors of its own (a bug in our code, not a documented rejection), even
 * when the class is the documented TypeError or RangeError.
 */
const ENGINE_ERROR =
  /Cannot read propert|Cannot set propert|is not a function|is not iterable|is not a constructor|Cannot convert|Maximum call stack|Invalid array length|Invalid string length|is not defined|Cannot destructure|out of memory|Cannot create property/;

/** True when `error` is one of `allowed` with a message written by us, not by the engine. */
export function documentedError(
  error: unknown,
  allowed: readonly (abstract new (...args: never[]) => Error)[],
): boolean {
  if (!(error instanceof Error)) return false;
  if (!allowed.some((cls) => error instanceof cls)) return false;
  if (error.message === "") return false;
  // A parser's own failure (e.g. its stack on 2,000 nested brackets) wrapped in our "cannot
  // parse" error is a documented rejection of the input.
  if (ENGINE_ERROR.test(error.message) && !/cannot parse/.test(error.message)) return false;
  return true;
}
