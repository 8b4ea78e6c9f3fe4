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
