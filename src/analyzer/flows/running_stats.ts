/** Numbers one statistic keeps: count, sum, min, max, mean, M2 (Welford), in this order. */
export const STAT = 6;

/** Where statistics live: a typed array (the flow table's rows) or a plain one (a Flow's). */
export type StatState = Float64Array | number[];

/**
 * Count, sum, min, max, mean and sample standard deviation of a stream of numbers in constant
 * space (Welford's update, numerically stable for long flows). The state is six numbers in an
 * array (its own, or a slice of a larger one), so the flow table can keep the statistics of every
 * open flow in one typed array and update them there (`RunningStats.addTo`).
 */
export class RunningStats {
  readonly #state: StatState;
  readonly #at: number;

  /** A statistic over `state[at, at + STAT)`, emptied; its own state by default. */
  constructor(state: StatState = new Array<number>(STAT).fill(0), at = 0) {
    if (at < 0 || at + STAT > state.length) {
      throw new RangeError(`Cannot place running statistics at ${at} of ${state.length} numbers`);
    }
    this.#state = state;
    this.#at = at;
    RunningStats.clear(state, at);
  }

  /** Empties the statistic stored at `state[at]`. */
  static clear(state: StatState, at: number): void {
    state[at] = 0;
    state[at + 1] = 0;
    state[at + 2] = Infinity;
    state[at + 3] = -Infinity;
    state[at + 4] = 0;
    state[at + 5] = 0;
  }

  /** Adds one value to the statistic stored at `state[at]`. */
  static addTo(state: StatState, at: number, x: number): void {
    const n = state[at]! + 1;
    state[at] = n;
    state[at + 1] = state[at + 1]! + x;
    if (x < state[at + 2]!) state[at + 2] = x;
    if (x > state[at + 3]!) state[at + 3] = x;
    const mean = state[at + 4]!;
    const d = x - mean;
    const next = mean + d / n;
    state[at + 4] = next;
    state[at + 5] = state[at + 5]! + d * (x - next);
  }

  /** Adds one value. */
  add(x: number): void {
    RunningStats.addTo(this.#state, this.#at, x);
  }

  /** Number of values added. */
  get n(): number {
    return this.#state[this.#at]!;
  }

  /** Exact sum of the values (integer microseconds stay exact up to 2^53). */
  get sum(): number {
    return this.#state[this.#at + 1]!;
  }

  /** Smallest value, +Infinity when empty. */
  get min(): number {
    return this.#state[this.#at + 2]!;
  }

  /** Largest value, -Infinity when empty. */
  get max(): number {
    return this.#state[this.#at + 3]!;
  }

  /** Arithmetic mean, 0 when empty. */
  get mean(): number {
    const n = this.n;
    return n === 0 ? 0 : this.sum / n;
  }

  /** Sample standard deviation (n − 1), 0 for fewer than two values. */
  get std(): number {
    const n = this.n;
    return n < 2 ? 0 : Math.sqrt(Math.max(0, this.#state[this.#at + 5]! / (n - 1)));
  }
}
