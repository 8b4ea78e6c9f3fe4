import { fnv1a } from "../../shared/hash/fnv1a.ts";
import { memo } from "./_memo.ts";
import type { ManyUasConfig } from "../../shared/config/components.ts";
import type { FilterDeps, RequestContext } from "./types.ts";
import type { HttpRecord } from "../wire/record.ts";
import { growU32, ipKey, IpSlots, type TrackedFilterInstance } from "./_ip_slots.ts";

/** The FNV-1a of a User-Agent (a pure function: one memo for every domain of the thread). */
const uaHash = memo((ua: string) => fnv1a(ua));

// Empty arrays shared by instances that hold no IP (never written: they have no elements).
const NO_U32 = new Uint32Array(0);
const NO_U16 = new Uint16Array(0);
const NO_F32 = new Float32Array(0);
const NO_I32 = new Int32Array(0);

/**
 * many_uas (SPEC §4 step 7): counts the distinct User-Agents each IP sent within `window`
 * seconds and emits `many_uas` on every request while the count is above `max_uas`. Each IP
 * keeps at most max_uas+1 (UA hash, last-seen second) pairs in flat typed arrays, so memory per
 * IP is bounded whatever a client sends; an IP with one UA holds one pair (see below).
 *
 * `min_new_share` tells a UA rotator from a NAT or carrier gateway: the filter keeps a moving
 * share (about the last 16 requests) of requests whose UA was not among the IP's recent ones. A
 * rotator brings a new UA nearly every time (share near 1); people behind one address each keep
 * their browser over a page and its assets (share near 0). Below the share: no event.
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
  let freeRows = NO_I32;
  let freeCount = 0;
  let rowsMade = 0;
  // Made on the first request and dropped again when a sweep empties it: a domain that sends
  // little holds (almost) nothing.
  let slots: IpSlots | undefined;
  const takeRow = (): number => {
    if (freeCount > 0) return freeRows[--freeCount]!;
    if ((rowsMade + 1) * w > rowHashes.length) {
      const rows = Math.max(4, (rowHashes.length / w) * 2);
      rowHashes = growU32(rowHashes, rows * w);
      rowTimes = growU32(rowTimes, rows * w);
      const free = new Int32Array(rows);
      free.set(freeRows.subarray(0, freeCount));
      freeRows = free;
    }
    return rowsMade++;
  };
  const giveRow = (e: number): void => {
    const row = rowOf[e]!;
    if (row < 0) return;
    freeRows[freeCount++] = row;
    rowOf[e] = -1;
  };
  const newSlots = (): IpSlots =>
    new IpSlots((capacity) => {
      hash0 = growU32(hash0, capacity);
      time0 = growU32(time0, capacity);
      const rows = new Int32Array(capacity).fill(-1);
      rows.set(rowOf);
      rowOf = rows;
      const next = new Uint16Array(capacity);
      next.set(counts);
      counts = next;
      const share = new Float32Array(capacity);
      share.set(newShare);
      newShare = share;
    });
  const release = (): void => {
    slots = undefined;
    hash0 =
      time0 =
      rowHashes =
      rowTimes =
        NO_U32;
    rowOf = freeRows = NO_I32;
    counts = NO_U16;
    newShare = NO_F32;
    freeCount = rowsMade = 0;
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
      const h = uaHash(record.http_user_agent);
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
            row = rowOf[e] = takeRow();
            base = row * w - 1;
          }
          rowHashes[base + n] = h;
          rowTimes[base + n] = sec;
        }
        n++;
      } else {
        // Full means already over the limit: replace the stalest so the newest UA is known.
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
      if (n <= 1) giveRow(e);
      // EWMA with weight 1/16: ~11 new UAs in a row reach 0.5 from 0.
      const share = newShare[e]! + ((found < 0 ? 1 : 0) - newShare[e]!) / 16;
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
        freeRows.byteLength,
    }),
  };
}
