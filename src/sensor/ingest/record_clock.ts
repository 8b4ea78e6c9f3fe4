import type { HttpRecord } from "../wire/record.ts";

/**
 * Event time taken from the records themselves (`msec`, else `timestamp`), never going back.
 * Replay and end-to-end tests run the real sensor on it, so a 30-minute scenario needs no
 * 30 minutes of wall time and the 30 s projection ticks fall where the records put them.
 */
export class RecordClock {
  #now: number;

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** Advances to the record's time when it is later. */
  observe(record: HttpRecord): void {
    const msec = record.msec === "" ? NaN : Number(record.msec) * 1000;
    const t = Number.isFinite(msec) ? msec : record.timestamp * 1000;
    if (t > this.#now) this.#now = t;
  }
}

/**
 * The list manager's clock: the time of the request being decided while a decision is applied
 * (decisions from workers arrive a batch later than their records), else the base clock.
 */
export class DecisionClock {
  readonly #base: { now(): number };
  #at: number | undefined;

  constructor(base: { now(): number }) {
    this.#base = base;
  }

  now(): number {
    return this.#at ?? this.#base.now();
  }

  /** Runs `fn` with the clock reading `time`. */
  at(time: number, fn: () => void): void {
    this.#at = time;
    try {
      fn();
    } finally {
      this.#at = undefined;
    }
  }
}
