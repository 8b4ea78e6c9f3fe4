import { fnv1a } from "../../shared/hash/fnv1a.ts";
import type { ManyUasConfig } from "../../shared/config/components.ts";
import type { FilterDeps, RequestContext } from "./types.ts";
import type { HttpRecord } from "../wire/record.ts";
import { growU32, ipKey, IpSlots, type TrackedFilterInstance } from "./_ip_slots.ts";

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
  let hashes = new Uint32Array(0);
  let times = new Uint32Array(0);
  let counts = new Uint16Array(0);
  let newShare = new Float32Array(0);
  const slots = new IpSlots((capacity) => {
    hashes = growU32(hashes, capacity * k);
    times = growU32(times, capacity * k);
    const next = new Uint16Array(capacity);
    next.set(counts);
    counts = next;
    const share = new Float32Array(capacity);
    share.set(newShare);
    newShare = share;
  });

  return {
    name: "many_uas",
    run: function manyUas(record: HttpRecord, ctx: RequestContext): void {
      if (ctx.phase !== "first") return;
      const key = ipKey(record, ctx.ip);
      let e = slots.find(key[0], key[1]);
      if (e < 0) {
        e = slots.insert(key[0], key[1]);
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
      const sec = Math.floor(now / 1000);
      slots.forEachEntry((e) => {
        if (sec - slots.seen[e]! >= window) slots.remove(e);
      });
    },
    close(): void {
      slots.clear();
    },
    stats: () => ({
      keys: slots.size,
      bytes: slots.bytes + hashes.byteLength + times.byteLength + counts.byteLength +
        newShare.byteLength,
    }),
  };
}
