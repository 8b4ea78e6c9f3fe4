/**
 * Count, sum, min, max, mean and sample standard deviation of a stream of numbers in constant
 * space (Welford's update, numerically stable for long flows).
 */
export class RunningStats {
  /** Number of values added. */
  n = 0;
  /** Exact sum of the values (integer microseconds stay exact up to 2^53). */
  sum = 0;
  /** Smallest value, +Infinity when empty. */
  min = Infinity;
  /** Largest value, -Infinity when empty. */
  max = -Infinity;
  #mean = 0;
  #m2 = 0;

  /** Adds one value. */
  add(x: number): void {
    this.n++;
    this.sum += x;
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    const d = x - this.#mean;
    this.#mean += d / this.n;
    this.#m2 += d * (x - this.#mean);
  }

  /** Arithmetic mean, 0 when empty. */
  get mean(): number {
    return this.n === 0 ? 0 : this.sum / this.n;
  }

  /** Sample standard deviation (n − 1), 0 for fewer than two values. */
  get std(): number {
    return this.n < 2 ? 0 : Math.sqrt(Math.max(0, this.#m2 / (this.n - 1)));
  }
}
