import { grow, IpSlots } from "./_ip_slots.ts";
import { drained, elapsedMs, nextExcess, REJECT } from "./_limit_req_math.ts";

/**
 * One zone's buckets in process memory: excess (u32, 1/1000 request) and last time (f64 ms)
 * per 64-bit key, in typed arrays. Mirrors nginx's shared-memory rbtree without a node object
 * per key.
 */
export class LocalBuckets {
  readonly slots: IpSlots;
  #excess = new Uint32Array(0);
  #last = new Float64Array(0);
  readonly #rate: number;
  readonly #burst: number;

  constructor(rate: number, burst: number) {
    this.#rate = rate;
    this.#burst = burst;
    this.slots = new IpSlots((capacity) => {
      this.#excess = grow(this.#excess, capacity);
      this.#last = grow(this.#last, capacity);
    });
  }

  /**
   * nginx lookup+account: the excess stored for this request, or REJECT. `last` moves to `now`
   * only when the request drained something (see `elapsedMs`), so it never goes back.
   */
  take(hi: number, lo: number, now: number): number {
    const e = this.slots.find(hi, lo);
    if (e < 0) {
      this.#store(this.slots.insert(hi, lo), 0, now);
      return 0;
    }
    const last = this.#last[e]!;
    const ms = elapsedMs(now, last);
    const excess = nextExcess(this.#excess[e]!, ms, this.#rate, this.#burst);
    if (excess !== REJECT) this.#store(e, excess, ms !== 0 ? now : last);
    return excess;
  }

  /** Overwrites a key's state (with what a shared backend stored), so a fallback starts warm. */
  put(hi: number, lo: number, excess: number, last: number): void {
    let e = this.slots.find(hi, lo);
    if (e < 0) e = this.slots.insert(hi, lo);
    this.#store(e, excess, last);
  }

  /** Drops the keys a later request would find as new ones (see `drained`); keeps the rest. */
  sweep(now: number): void {
    this.slots.forEachEntry((e) => {
      if (drained(this.#excess[e]!, this.#last[e]!, now, this.#rate)) this.slots.remove(e);
    });
  }

  /** Bytes of typed arrays held. */
  get bytes(): number {
    return this.slots.bytes + this.#excess.byteLength + this.#last.byteLength;
  }

  #store(e: number, excess: number, last: number): void {
    this.#excess[e] = excess;
    this.#last[e] = last;
    this.slots.seen[e] = Math.floor(last / 1000);
  }
}
