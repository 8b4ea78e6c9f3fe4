import type { HttpRecord } from "../wire/record.ts";
import type { FilterInstance } from "./types.ts";
import { parseIPv4, sourceOf } from "../../shared/net/ip.ts";
import { fnv1a } from "../../shared/hash/fnv1a.ts";
import { memo } from "./_memo.ts";

/**
 * An open-addressing hash table from a 64-bit key (two u32 words) to a dense entry number, for
 * per-IP filter state kept in typed arrays indexed by that number. No object per key: one
 * 1M-IP table costs the two key words, a last-seen time and ~8 bytes of index per entry.
 * Removal frees the entry number for reuse and repairs the probe chain (backward shift), so
 * lookups never degrade with churn.
 */
export class IpSlots {
  /** Entry number by bucket, -1 when the bucket is empty. Length is a power of two. */
  #buckets: Int32Array;
  #mask: number;
  /** Key words and last-seen time (seconds) by entry number. */
  keyHi: Uint32Array<ArrayBuffer>;
  keyLo: Uint32Array<ArrayBuffer>;
  seen: Uint32Array<ArrayBuffer>;
  #free: Int32Array;
  #freeCount = 0;
  #next = 0;
  #size = 0;
  readonly #grow: (capacity: number) => void;

  /** `grow(capacity)` is called after the entry arrays grew, so users resize theirs alike. */
  constructor(grow: (capacity: number) => void, initialCapacity = 16) {
    let capacity = 16;
    while (capacity < initialCapacity) capacity *= 2;
    this.#grow = grow;
    this.keyHi = new Uint32Array(capacity);
    this.keyLo = new Uint32Array(capacity);
    this.seen = new Uint32Array(capacity);
    this.#free = new Int32Array(capacity);
    this.#buckets = new Int32Array(capacity * 2).fill(-1);
    this.#mask = capacity * 2 - 1;
    grow(capacity);
  }

  /** Number of live entries. */
  get size(): number {
    return this.#size;
  }

  /** Length of the entry arrays. */
  get capacity(): number {
    return this.keyHi.length;
  }

  /** Bytes held by the table itself (not the users' arrays). */
  get bytes(): number {
    return this.#buckets.byteLength + this.keyHi.byteLength * 3 + this.#free.byteLength;
  }

  /** The entry of a key, or -1. */
  find(hi: number, lo: number): number {
    const buckets = this.#buckets;
    const mask = this.#mask;
    let b = mix(hi, lo) & mask;
    for (;;) {
      const e = buckets[b]!;
      if (e < 0) return -1;
      if (this.keyLo[e] === lo && this.keyHi[e] === hi) return e;
      b = (b + 1) & mask;
    }
  }

  /** Adds a key that `find` did not find; returns its new entry (state arrays hold garbage). */
  insert(hi: number, lo: number): number {
    let e: number;
    if (this.#freeCount > 0) e = this.#free[--this.#freeCount]!;
    else {
      if (this.#next === this.keyHi.length) this.#enlarge();
      e = this.#next++;
    }
    this.keyHi[e] = hi >>> 0;
    this.keyLo[e] = lo >>> 0;
    this.#place(e);
    this.#size++;
    return e;
  }

  /** Removes an entry; its number may be handed out again by `insert`. */
  remove(e: number): void {
    const buckets = this.#buckets;
    const mask = this.#mask;
    let b = mix(this.keyHi[e]!, this.keyLo[e]!) & mask;
    while (buckets[b] !== e) b = (b + 1) & mask;
    // Backward-shift deletion: pull later members of the probe run into the hole.
    let hole = b;
    let j = (b + 1) & mask;
    for (;;) {
      const f = buckets[j]!;
      if (f < 0) break;
      const home = mix(this.keyHi[f]!, this.keyLo[f]!) & mask;
      // f may move into the hole when its home is not cyclically within (hole, j].
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!inRange) {
        buckets[hole] = f;
        hole = j;
      }
      j = (j + 1) & mask;
    }
    buckets[hole] = -1;
    this.#free[this.#freeCount++] = e;
    this.#size--;
  }

  /** Calls `visit(entry)` for every live entry; `visit` may remove the entry it is given. */
  forEachEntry(visit: (e: number) => void): void {
    // Walk entry numbers, not buckets, so removals during the walk cannot skip entries.
    const live = new Uint8Array(this.#next).fill(1);
    for (let i = 0; i < this.#freeCount; i++) live[this.#free[i]!] = 0;
    for (let e = 0; e < this.#next; e++) if (live[e] === 1) visit(e);
  }

  /** Removes every entry. */
  clear(): void {
    this.#buckets.fill(-1);
    this.#next = 0;
    this.#freeCount = 0;
    this.#size = 0;
  }

  #place(e: number): void {
    const buckets = this.#buckets;
    const mask = this.#mask;
    let b = mix(this.keyHi[e]!, this.keyLo[e]!) & mask;
    while (buckets[b]! >= 0) b = (b + 1) & mask;
    buckets[b] = e;
  }

  #enlarge(): void {
    const capacity = this.keyHi.length * 2;
    this.keyHi = grow(this.keyHi, capacity);
    this.keyLo = grow(this.keyLo, capacity);
    this.seen = grow(this.seen, capacity);
    const free = new Int32Array(capacity);
    free.set(this.#free);
    this.#free = free;
    this.#buckets = new Int32Array(capacity * 2).fill(-1);
    this.#mask = capacity * 2 - 1;
    const live = new Uint8Array(this.#next).fill(1);
    for (let i = 0; i < this.#freeCount; i++) live[this.#free[i]!] = 0;
    for (let e = 0; e < this.#next; e++) if (live[e] === 1) this.#place(e);
    this.#grow(capacity);
  }
}

// Empty arrays for state that holds no key yet, shared by every filter (never written: they
// have no elements).
export const NO_U32 = new Uint32Array(0);
export const NO_U16 = new Uint16Array(0);
export const NO_F32 = new Float32Array(0);
export const NO_I32 = new Int32Array(0);

/**
 * Numbers for the rows of a pool of per-key state that only some keys need (a long ring, a
 * second User-Agent): a given-back row is taken again first; a new one past the rows made so far
 * calls `grow(rows)` first, so the owner enlarges its arrays to that many rows.
 */
export class RowPool {
  #free = NO_I32;
  #freeCount = 0;
  #made = 0;
  #rows = 0;
  readonly #grow: (rows: number) => void;

  constructor(grow: (rows: number) => void) {
    this.#grow = grow;
  }

  /** A row number to use. */
  take(): number {
    if (this.#freeCount > 0) return this.#free[--this.#freeCount]!;
    if (this.#made === this.#rows) {
      this.#rows = Math.max(4, this.#rows * 2);
      this.#free = grow(this.#free, this.#rows);
      this.#grow(this.#rows);
    }
    return this.#made++;
  }

  /** Gives a row back for the next `take`. */
  give(row: number): void {
    this.#free[this.#freeCount++] = row;
  }

  /** Forgets every row (the owner drops its arrays). */
  clear(): void {
    this.#free = NO_I32;
    this.#freeCount = this.#made = this.#rows = 0;
  }

  /** Bytes of the free list. */
  get bytes(): number {
    return this.#free.byteLength;
  }
}

/** The typed arrays per-key state is kept in. */
type StateArray =
  | Uint32Array<ArrayBuffer>
  | Int32Array<ArrayBuffer>
  | Uint16Array<ArrayBuffer>
  | Float32Array<ArrayBuffer>
  | Float64Array<ArrayBuffer>;

/** A typed array grown (or cut) to `capacity`, keeping its contents; new elements are `fill`. */
export function grow<T extends StateArray>(array: T, capacity: number, fill = 0): T {
  const next = new (array.constructor as new (length: number) => T)(capacity);
  if (fill !== 0) next.fill(fill);
  next.set(array.subarray(0, Math.min(array.length, capacity)) as ArrayLike<number> as never);
  return next;
}

function mix(hi: number, lo: number): number {
  let h = Math.imul(lo ^ (hi * 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A second, independent 32-bit hash, so two together make a 64-bit key. */
export function hash32b(text: string): number {
  let h = 0x9747b28c ^ text.length;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 13), 0x5bd1e995);
  return (h ^ (h >>> 15)) >>> 0;
}

/** Scratch key filled by `ipKey`: `[hi, lo]`. */
export const KEY: [number, number] = [0, 0];

/**
 * The 64-bit key of a record's client: IPv4 is exact (hi 0, lo the address, from the wire's
 * `remote_ip` or a dotted `remote_addr`); IPv6 text hashes to two independent 32-bit words with
 * hi forced non-zero, so it never collides with IPv4 and other collisions need ~2^31 IPs.
 */
export function ipKey(record: HttpRecord, ip: string): [number, number] {
  const addr = record.remote_addr;
  if (!addr) {
    KEY[0] = 0;
    KEY[1] = record.remote_ip >>> 0;
    return KEY;
  }
  const v4 = parseIPv4(addr);
  if (v4 !== undefined) {
    KEY[0] = 0;
    KEY[1] = v4;
    return KEY;
  }
  return textKey(ip || addr);
}

/**
 * The 64-bit key of a record's client as a counting source: `ipKey` for IPv4 (and IPv6 with
 * prefix 128), the key of its `/prefix` network for IPv6, so a host rotating addresses inside
 * its /64 counts once.
 */
export function sourceKey(record: HttpRecord, ip: string, prefix: number): [number, number] {
  if (prefix >= 128 || !ip.includes(":")) return ipKey(record, ip);
  return textKey(sourceOf(ip, prefix));
}

/** The 64-bit key of any text, hi never 0 (see `ipKey`). */
export function textKey(text: string): [number, number] {
  KEY[0] = (fnv1a(text) | 1) >>> 0;
  KEY[1] = hash32b(text);
  return KEY;
}

/**
 * A text's two hash words (FNV-1a, then `hash32b`), remembered for the texts seen last: the one
 * memo of User-Agent hashes, so a new UA is hashed once for every filter that keys by it.
 */
export const textWords = memo((
  text: string,
): readonly [number, number] => [fnv1a(text), hash32b(text)]);

/**
 * The 64-bit key of a source (`sourceKey`'s words) with a text, its User-Agent: two independent
 * mixes of the four words, so a UA is hashed once while it stays in the memo, not on every
 * request as `textKey` of the two joined would.
 */
export function sourceTextKey(hi: number, lo: number, text: string): [number, number] {
  const [a, b] = textWords(text);
  KEY[0] = mix4(hi, lo, a, b, 0x9747b28c);
  KEY[1] = mix4(lo, hi, b, a, 0x3c6ef372);
  return KEY;
}

/** Murmur2-style hash of four 32-bit words. */
function mix4(w: number, x: number, y: number, z: number, seed: number): number {
  const h = step(step(step(step(seed, w), x), y), z);
  const f = Math.imul(h ^ (h >>> 13), 0x5bd1e995);
  return (f ^ (f >>> 15)) >>> 0;
}

function step(h: number, k: number): number {
  const m = Math.imul(h ^ k, 0x5bd1e995);
  return m ^ (m >>> 15);
}

/** Size of a filter's per-key state, for the bench and diagnostics. */
export interface StateStats {
  /** Tracked keys (IPs, or IP+UA/path for limit_req). */
  keys: number;
  /** Bytes held in typed arrays for that state. */
  bytes: number;
}

/** A filter instance that also reports how much per-key state it holds. */
export interface TrackedFilterInstance extends FilterInstance {
  stats(): StateStats;
}
