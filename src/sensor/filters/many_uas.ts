import type { ManyUasConfig } from "../../shared/config/components.ts";
import type { FilterDeps, RequestContext } from "./types.ts";
import type { HttpRecord } from "../wire/record.ts";
import {
  grow,
  ipKey,
  IpSlots,
  NO_F32,
  NO_I32,
  NO_U16,
  NO_U32,
  RowPool,
  textWords,
  type TrackedFilterInstance,
} from "./_ip_slots.ts";

/** Words of one generation of a seen-UA map (1024 bits), and the marks that turn it old. */
const SEEN_WORDS = 32;
const SEEN_MARKS = 128;

/**
 * many_uas (SPEC §4 step 7): counts the distinct User-Agents each IP sent within `window`
 * seconds and emits `many_uas` on every request while the count is above `max_uas`. Each IP
 * keeps at most max_uas+1 (UA hash, last-seen second) pairs in flat typed arrays, so memory per
 * IP is bounded whatever a client sends; an IP with one UA holds one pair (see below).
 *
 * `min_new_share` tells a UA rotator from a NAT or carrier gateway: the filter keeps a moving
 * share (about the last 32 requests) of requests whose UA the IP had not sent lately. A rotator
 * brings a new UA nearly every time (share near 1); people behind one address each keep their
 * browser over a page and its assets (share near 0). Below the share: no event.
 *
 * Past max_uas the pairs cannot say "sent lately": a gateway with more browsers at once than
 * max_uas+1 evicts them from each other, and each looked new (a carrier's gateway was banned).
 * So an IP over the limit also marks its UAs' hashes in two generations of a 1024-bit map, the
 * newer turning old after 128 marks: a rotator's UAs are new to both (at most a quarter of the
 * bits set), a gateway's people are remembered while ~128–256 of them are active at once.
 */
export function manyUas(config: ManyUasConfig, _deps: FilterDeps = {}): TrackedFilterInstance {
  const { max_uas: maxUas, window, min_new_share: minNewShare } = config;
  const k = maxUas + 1;
  // Pair 0 of each IP lives in its entry (hash0, time0); pairs 1…k-1 in a row of the overflow
  // pool, taken when an IP shows its second UA and given back when it is down to one again. Most
  // addresses send one User-Agent, so they cost 8 bytes of pairs, not 8 × k.
  const w = k - 1;
  let hash0 = NO_U32;
  let time0 = NO_U32;
  let rowOf = NO_I32;
  let counts = NO_U16;
  let newShare = NO_F32;
  let rowHashes = NO_U32;
  let rowTimes = NO_U32;
  // The seen-UA maps of the rows whose IP went over max_uas: by pair row, the map's number
  // (-1: none); per map, two generations of SEEN_WORDS words and the newer one's marks.
  let seenOfRow = NO_I32;
  let seenBits = NO_U32;
  let seenMarks = NO_U16;
  const rows = new RowPool((n) => {
    rowHashes = grow(rowHashes, n * w);
    rowTimes = grow(rowTimes, n * w);
    seenOfRow = grow(seenOfRow, n, -1);
  });
  const maps = new RowPool((n) => {
    seenBits = grow(seenBits, n * 2 * SEEN_WORDS);
    seenMarks = grow(seenMarks, n);
  });
  // Made on the first request and dropped again when a sweep empties it: a domain that sends
  // little holds (almost) nothing.
  let slots: IpSlots | undefined;
  const takeSeen = (row: number): number => {
    const s = maps.take();
    seenOfRow[row] = s;
    return s;
  };
  const giveSeen = (row: number): void => {
    const s = seenOfRow[row]!;
    if (s < 0) return;
    seenBits.fill(0, s * 2 * SEEN_WORDS, (s + 1) * 2 * SEEN_WORDS);
    seenMarks[s] = 0;
    maps.give(s);
    seenOfRow[row] = -1;
  };
  /** Marks a UA hash in a seen map; true when neither generation had it (new to the IP). */
  const markSeen = (s: number, h: number): boolean => {
    const newer = s * 2 * SEEN_WORDS;
    const i = (h >>> 5) & (SEEN_WORDS - 1);
    const bit = 1 << (h & 31);
    if ((seenBits[newer + i]! & bit) !== 0) return false;
    const known = (seenBits[newer + SEEN_WORDS + i]! & bit) !== 0;
    if (seenMarks[s]! >= SEEN_MARKS) {
      seenBits.copyWithin(newer + SEEN_WORDS, newer, newer + SEEN_WORDS);
      seenBits.fill(0, newer, newer + SEEN_WORDS);
      seenMarks[s] = 0;
    }
    seenBits[newer + i] = seenBits[newer + i]! | bit;
    seenMarks[s]!++;
    return !known;
  };
  const giveRow = (e: number): void => {
    const row = rowOf[e]!;
    if (row < 0) return;
    giveSeen(row);
    rows.give(row);
    rowOf[e] = -1;
  };
  const newSlots = (): IpSlots =>
    new IpSlots((capacity) => {
      hash0 = grow(hash0, capacity);
      time0 = grow(time0, capacity);
      rowOf = grow(rowOf, capacity, -1);
      counts = grow(counts, capacity);
      newShare = grow(newShare, capacity);
    });
  const release = (): void => {
    slots = undefined;
    hash0 =
      time0 =
      rowHashes =
      rowTimes =
        NO_U32;
    seenBits = NO_U32;
    rowOf = seenOfRow = NO_I32;
    counts = seenMarks = NO_U16;
    newShare = NO_F32;
    rows.clear();
    maps.clear();
  };

  return {
    name: "many_uas",
    run: function manyUas(record: HttpRecord, ctx: RequestContext): void {
      if (ctx.phase !== "first") return;
      const key = ipKey(record, ctx.ip);
      slots ??= newSlots();
      let e = slots.find(key[0], key[1]);
      if (e < 0) {
        e = slots.insert(key[0], key[1]);
        counts[e] = 0;
        newShare[e] = 0;
        rowOf[e] = -1;
      }
      const sec = Math.floor(ctx.now / 1000);
      slots.seen[e] = sec;
      // Pair i: i = 0 in the entry, i ≥ 1 at base + i in the IP's row.
      let row = rowOf[e]!;
      let base = row < 0 ? 0 : row * w - 1;
      // Drop pairs last seen `window` or more seconds ago, keeping the rest packed.
      let n = counts[e]!;
      let kept = 0;
      for (let i = 0; i < n; i++) {
        const t = i === 0 ? time0[e]! : rowTimes[base + i]!;
        if (sec - t >= window) continue;
        const h = i === 0 ? hash0[e]! : rowHashes[base + i]!;
        if (kept === 0) {
          hash0[e] = h;
          time0[e] = t;
        } else {
          rowHashes[base + kept] = h;
          rowTimes[base + kept] = t;
        }
        kept++;
      }
      n = kept;
      const h = textWords(record.http_user_agent)[0];
      let found = -1;
      for (let i = 0; i < n; i++) {
        if ((i === 0 ? hash0[e] : rowHashes[base + i]) === h) {
          found = i;
          break;
        }
      }
      if (found === 0) time0[e] = sec;
      else if (found > 0) rowTimes[base + found] = sec;
      else if (n < k) {
        if (n === 0) {
          hash0[e] = h;
          time0[e] = sec;
        } else {
          if (row < 0) {
            row = rowOf[e] = rows.take();
            base = row * w - 1;
          }
          rowHashes[base + n] = h;
          rowTimes[base + n] = sec;
        }
        n++;
      } else {
        // Full means already over the limit: replace the stalest so the newest UA is known,
        // the replaced ones remembered by the seen map from now on.
        if (seenOfRow[row]! < 0) {
          const s = takeSeen(row);
          for (let i = 0; i < n; i++) markSeen(s, i === 0 ? hash0[e]! : rowHashes[base + i]!);
        }
        let oldest = 0;
        let oldestTime = time0[e]!;
        for (let i = 1; i < n; i++) {
          if (rowTimes[base + i]! < oldestTime) {
            oldest = i;
            oldestTime = rowTimes[base + i]!;
          }
        }
        if (oldest === 0) {
          hash0[e] = h;
          time0[e] = sec;
        } else {
          rowHashes[base + oldest] = h;
          rowTimes[base + oldest] = sec;
        }
      }
      counts[e] = n;
      const s = row < 0 ? -1 : seenOfRow[row]!;
      const fresh = s >= 0 ? markSeen(s, h) : found < 0;
      // Under the limit again, the pairs hold every UA of the window: the map is not needed.
      if (s >= 0 && n < k) giveSeen(row);
      if (n <= 1) giveRow(e);
      // EWMA with weight 1/32: ~22 new UAs in a row reach 0.5 from 0; a gateway seen first with
      // dozens of browsers at once (a restart) stays under it.
      const share = newShare[e]! + ((fresh ? 1 : 0) - newShare[e]!) / 32;
      newShare[e] = share;
      if (n > maxUas && share >= minNewShare) ctx.events.push("many_uas");
    },
    sweep(now: number): void {
      const table = slots;
      if (table === undefined) return;
      const sec = Math.floor(now / 1000);
      table.forEachEntry((e) => {
        if (sec - table.seen[e]! < window) return;
        giveRow(e);
        table.remove(e);
      });
      if (table.size === 0) release();
    },
    close(): void {
      release();
    },
    stats: () => ({
      keys: slots?.size ?? 0,
      bytes: (slots?.bytes ?? 0) + hash0.byteLength + time0.byteLength + rowOf.byteLength +
        counts.byteLength + newShare.byteLength + rowHashes.byteLength + rowTimes.byteLength +
        rows.bytes + seenOfRow.byteLength + seenBits.byteLength + seenMarks.byteLength +
        maps.bytes,
    }),
  };
}
