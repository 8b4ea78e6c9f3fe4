import { elapsedMs, nextExcess, REJECT } from "./_limit_req_math.ts";
import type { SharedStore } from "./types.ts";

/** Raised when CAS kept losing races; the caller decides locally for this request. */
export class ContentionError extends Error {
  override name = "ContentionError";
}

/** One shared decision: `excess` is the stored excess or REJECT; `last` the key's stored time. */
export interface SharedDecision {
  excess: number;
  last: number;
}

/**
 * nginx lookup+account on a memcached key holding `"<excess> <last ms>"`, made atomic with
 * gets/cas (or add for a new key): a lost race re-reads and recomputes, so N sensors sharing
 * the key make the same decisions one nginx would for the merged request stream, whatever
 * their clocks: a time before the stored `last` drains nothing and leaves `last` where it is
 * (see `elapsedMs`). Rejections write nothing, as in nginx. Throws MemcachedUnavailableError /
 * ContentionError.
 */
export async function sharedTake(
  client: SharedStore,
  key: string,
  now: number,
  rate: number,
  burst: number,
  ttl: number,
  attempts = 8,
): Promise<SharedDecision> {
  for (let i = 0; i < attempts; i++) {
    const found = await client.gets(key);
    if (found === null) {
      if (await client.add(key, `0 ${now}`, ttl)) return { excess: 0, last: now };
      continue; // another sensor created it first: read theirs
    }
    const space = found.value.indexOf(" ");
    const excess = Number(found.value.slice(0, space));
    const last = Number(found.value.slice(space + 1));
    if (space < 0 || !Number.isFinite(excess) || !Number.isFinite(last)) {
      // Not ours or corrupt: start the key over, as nginx does for a new node.
      if (await client.cas(key, `0 ${now}`, ttl, found.cas) === "STORED") {
        return { excess: 0, last: now };
      }
      continue;
    }
    const ms = elapsedMs(now, last);
    const next = nextExcess(excess, ms, rate, burst);
    if (next === REJECT) return { excess: REJECT, last };
    const stored = ms !== 0 ? now : last;
    if (await client.cas(key, `${next} ${stored}`, ttl, found.cas) === "STORED") {
      return { excess: next, last: stored };
    }
  }
  throw new ContentionError(`memcached key ${key}: CAS lost ${attempts} times in a row`);
}
