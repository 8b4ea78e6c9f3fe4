import { fnv1a } from "../../shared/hash/fnv1a.ts";
import type { ManyUasConfig } from "../../shared/config/components.ts";
import type { FilterDeps, RequestContext } from "./types.ts";
import type { HttpRecord } from "../wire/record.ts";
import { growU32, ipKey, IpSlots, type TrackedFilterInstance } from "./_ip_slots.ts";

// Empty arrays shared by instances that hold no IP (never written: they have no elements).
const NO_U32 = new Uint32Array(0);
const NO_U16 = new Uint16Array(0);
const NO_F32 = new Float32Array(0);

/**
 * many_uas (SPEC §4 step 7): counts the distinct User-Agents each IP sent within `window`
 * seconds and emits `many_uas` on every request while the count is above `max_uas`. Each IP
 * keeps at most max_uas+1 (UA hash, last-seen second) pairs in flat typed arrays, so memory per
 * IP is bounded whatever a client sends.
 *
 * `min_new_share` tells a UA rotator from a NAT or carrier gateway: the filter keeps a moving
 * share (about the last 16 requests) of requests whose UA was not among the IP's recent ones. A
 * rotator brings a new UA nearly every time (share near 1); people behind one address each keep
 * their browser over a page and its assets (share near 0). Below the share: no event.
 */
export function manyUas(config: ManyUasConfig, _deps: FilterDeps = {}): TrackedFilterInstance {
  const { max_uas: maxUas, window, min_new_share: minNewShare } = config;
  const k = maxUas + 1;
  let hashes = NO_U32;
  let times = NO_U32;
  let counts = NO_U16;
  let newShare = NO_F32;
  // Made on the first request and dropped again when a sweep empties it: a domain that sends
  // little holds (almost) nothing.
  let slots: IpSlots | undefined;
  // The k-wide rows (hashes, times) grow with the entries in use, not with the table: a domain
  // with a handful of clients does not pay for 16 rows of 11.
  const rows = (e: number): void => {
    if ((e + 1) * k <= hashes.length) return;
    let n = Math.max(4, hashes.length / k);
    while (n < e + 1) n *= 2;
    n = Math.min(n, slots!.capacity);
    hashes = growU32(hashes, n * k);
    times = growU32(times, n * k);
  };
  const newSlots = (): IpSlots =>
    new IpSlots((capacity) => {
      const next = new Uint16Array(capacity);
      next.set(counts);
      counts = next;
      const share = new Float32Array(capacity);
      share.set(newShare);
      newShare = share;
    });
  const release = (): void => {
    slots = undefined;
    hashes = times = NO_U32;
    counts = NO_U16;
    newShare = NO_F32;
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
        rows(e);
        counts[e] = 0;
        newShare[e] = 0;
      }
      const sec = Math.floor(ctx.now / 1000);
      slots.seen[e] = sec;
      const base = e * k;
      // Drop pairs last seen `window` or more seconds ago, keeping the rest packed.
      let n = counts[e]!;
      let kept = 0;
      for (let i = 0; i < n; i++) {
        const t = times[base + i]!;
        if (sec - t < window) {
          hashes[base + kept] = hashes[base + i]!;
          times[base + kept] = t;
          kept++;
        }
      }
      n = kept;
      const h = fnv1a(record.http_user_agent);
      let found = -1;
      for (let i = 0; i < n; i++) {
        if (hashes[base + i] === h) {
          found = i;
          break;
        }
      }
      if (found >= 0) times[base + found] = sec;
      else if (n < k) {
        hashes[base + n] = h;
        times[base + n] = sec;
        n++;
      } else {
        // Full means already over the limit: replace the stalest so the newest UA is known.
        let oldest = 0;
        for (let i = 1; i < n; i++) if (times[base + i]! < times[base + oldest]!) oldest = i;
        hashes[base + oldest] = h;
        times[base + oldest] = sec;
      }
      counts[e] = n;
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
        if (sec - table.seen[e]! >= window) table.remove(e);
      });
      if (table.size === 0) release();
    },
    close(): void {
      release();
    },
    stats: () => ({
      keys: slots?.size ?? 0,
      bytes: (slots?.bytes ?? 0) + hashes.byteLength + times.byteLength + counts.byteLength +
        newShare.byteLength,
    }),
  };
}
