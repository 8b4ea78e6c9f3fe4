import { fnv1a } from "../../shared/hash/fnv1a.ts";
import type { RequestHashScoreConfig, ScoreRingConfig } from "../../shared/config/components.ts";
import type { FilterDeps, RequestContext } from "./types.ts";
import type { HttpRecord } from "../wire/record.ts";
import {
  grow,
  ipKey,
  IpSlots,
  NO_I32,
  NO_U16,
  NO_U32,
  RowPool,
  textKey,
  type TrackedFilterInstance,
} from "./_ip_slots.ts";

/**
 * request_hash_score (SPEC §4 step 9): keeps, per IP and per User-Agent, a ring of the last
 * `history_size` request hashes (method + host + url). The score is the number of ring entries
 * whose hash occurs at least `min_repeats` times in the ring; a score of `max_score` or more
 * emits `hash_score_ip` / `hash_score_ua`. A ring idle longer than `timeout` seconds starts
 * over. The score is kept incrementally, so a request costs two scans of the ring, not a sort.
 *
 * A User-Agent's ring mixes every client sending that UA, so its score says a request is being
 * repeated, not who repeats it. `hash_score_ua` is therefore emitted only for an IP that itself
 * repeats: the request's hash is one of the repeated ones in the UA's ring, and the same IP
 * sent that hash at least `per_useragent.min_repeats` times (at most `per_ip.history_size`)
 * among its own last `per_ip.history_size` requests, read from its per_ip ring. A slow
 * distributed attack (each address once every few minutes, each far apart in the UA's ring) is
 * still caught once an address has come back `min_repeats` times; a real user sharing a
 * popular browser UA who logs in once and browses is not. No memory beyond the two rings.
 *
 * Runs and emits on the "first" phase only (the response half repeats the request).
 */
export function requestHashScore(
  config: RequestHashScoreConfig,
  _deps: FilterDeps = {},
): TrackedFilterInstance {
  const perIp = scoreRing(config.per_ip, "hash_score_ip");
  const perUa = scoreRing(config.per_useragent, "hash_score_ua");
  const uaRepeats = config.per_useragent.min_repeats;
  const ownRepeats = Math.min(uaRepeats, config.per_ip.history_size);
  return {
    name: "request_hash_score",
    run: function requestHashScore(record: HttpRecord, ctx: RequestContext): void {
      if (ctx.phase !== "first") return;
      const h = fnv1a(record.url, fnv1a(record.host, fnv1a(record.method) ^ 0x2f));
      const sec = Math.floor(ctx.now / 1000);
      // ipKey and textKey share one scratch pair: keep the IP's words.
      const key = ipKey(record, ctx.ip);
      const ipHi = key[0];
      const ipLo = key[1];
      if (perIp.add(ipHi, ipLo, h, sec)) ctx.events.push(perIp.event);
      const ua = textKey(record.http_user_agent);
      if (
        perUa.add(ua[0], ua[1], h, sec) && perUa.lastCount >= uaRepeats &&
        perIp.count(ipHi, ipLo, h) >= ownRepeats
      ) ctx.events.push(perUa.event);
    },
    sweep(now: number): void {
      const sec = Math.floor(now / 1000);
      perIp.sweep(sec);
      perUa.sweep(sec);
    },
    close(): void {
      perIp.clear();
      perUa.clear();
    },
    stats: () => ({ keys: perIp.size, bytes: perIp.bytes() }),
  };
}

interface Ring {
  readonly event: string;
  /** Keys held. */
  readonly size: number;
  /** Records hash `h` at second `sec`; true when the key's score reached max_score. */
  add(hi: number, lo: number, h: number, sec: number): boolean;
  /** Occurrences of the last added hash in its key's ring, that hash included. */
  readonly lastCount: number;
  /** Occurrences of hash `h` in a key's ring (0 for an unknown key). */
  count(hi: number, lo: number, h: number): number;
  sweep(sec: number): void;
  clear(): void;
  bytes(): number;
}

/** Ring entries an IP holds in its own entry; a longer history moves to a pool row. */
const SMALL_RING = 8;

function scoreRing(config: ScoreRingConfig, event: string): Ring {
  const { history_size: size, max_score: maxScore, min_repeats: minRepeats, timeout } = config;
  // A key's first SMALL_RING hashes live in its entry's small row; at the next one its ring
  // moves to a full row of the pool (taken then, given back when the key starts over or goes).
  // Most keys of a scan or a botnet send a few requests: they never take a full row.
  const small = Math.min(size, SMALL_RING);
  let ring = NO_U32;
  let rowOf = NO_I32;
  let pool = NO_U32;
  const rows = new RowPool((n) => {
    pool = grow(pool, n * size);
  });
  // pos, len and score per key, packed in one array to save a table.
  let meta = NO_U16;
  // Made on the first request and dropped again when a sweep empties it: a domain that sends
  // little holds (almost) nothing.
  let slots: IpSlots | undefined;
  const newSlots = (): IpSlots =>
    new IpSlots((capacity) => {
      ring = grow(ring, capacity * small);
      rowOf = grow(rowOf, capacity, -1);
      meta = grow(meta, capacity * 3);
    });
  const release = (): void => {
    slots = undefined;
    ring = pool = NO_U32;
    rowOf = NO_I32;
    meta = NO_U16;
    rows.clear();
  };
  /** Where key `e`'s ring starts: its small row, or its pool row. */
  const baseOf = (e: number): number => {
    const row = rowOf[e]!;
    return row < 0 ? e * small : -1 - row * size;
  };
  const arrayOf = (base: number): Uint32Array => base < 0 ? pool : ring;
  const giveRow = (e: number): void => {
    const row = rowOf[e]!;
    if (row < 0) return;
    rows.give(row);
    rowOf[e] = -1;
  };
  /** Moves a full small ring (in order, pos = len = small) to a pool row. */
  const promote = (e: number): void => {
    const row = rows.take();
    pool.set(ring.subarray(e * small, e * small + small), row * size);
    rowOf[e] = row;
  };
  let lastCount = 0;
  const countIn = (base: number, len: number, h: number): number => {
    const a = arrayOf(base);
    const from = base < 0 ? -1 - base : base;
    let c = 0;
    for (let i = 0; i < len; i++) if (a[from + i] === h) c++;
    return c;
  };
  return {
    event,
    get size() {
      return slots?.size ?? 0;
    },
    get lastCount() {
      return lastCount;
    },
    count(hi, lo, h) {
      const e = slots === undefined ? -1 : slots.find(hi, lo);
      return e < 0 ? 0 : countIn(baseOf(e), meta[e * 3 + 1]!, h);
    },
    add(hi, lo, h, sec) {
      slots ??= newSlots();
      let e = slots.find(hi, lo);
      if (e < 0) {
        e = slots.insert(hi, lo);
        rowOf[e] = -1;
        meta[e * 3] = meta[e * 3 + 1] = meta[e * 3 + 2] = 0;
      } else if (sec - slots.seen[e]! > timeout) {
        giveRow(e);
        meta[e * 3] = meta[e * 3 + 1] = meta[e * 3 + 2] = 0;
      }
      slots.seen[e] = sec;
      const m = e * 3;
      const pos = meta[m]!;
      const len = meta[m + 1]!;
      if (len === small && small < size && rowOf[e]! < 0) promote(e);
      const base = baseOf(e);
      const a = arrayOf(base);
      const from = base < 0 ? -1 - base : base;
      let score = meta[m + 2]!;
      if (len === size) {
        // Evict the oldest hash: its group shrinks by one; below min_repeats it stops counting.
        const old = a[from + pos]!;
        const c = countIn(base, len, old);
        if (c === minRepeats) score -= c;
        else if (c > minRepeats) score -= 1;
      }
      // Not full: pos === len, so the new slot is just past the counted entries.
      const after = len === size ? len : len + 1;
      a[from + pos] = h;
      const c = countIn(base, after, h);
      lastCount = c;
      if (c === minRepeats) score += c;
      else if (c > minRepeats) score += 1;
      meta[m] = pos + 1 === size ? 0 : pos + 1;
      meta[m + 1] = after;
      meta[m + 2] = score;
      return score >= maxScore;
    },
    sweep(sec) {
      const table = slots;
      if (table === undefined) return;
      table.forEachEntry((e) => {
        if (sec - table.seen[e]! <= timeout) return;
        giveRow(e);
        table.remove(e);
      });
      if (table.size === 0) release();
    },
    clear() {
      release();
    },
    bytes: () =>
      (slots?.bytes ?? 0) + ring.byteLength + rowOf.byteLength + pool.byteLength +
      rows.bytes + meta.byteLength,
  };
}
