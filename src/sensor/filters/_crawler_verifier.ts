import { OrderedMap } from "../../shared/cache/ordered_map.ts";
import { formatIPv4, formatIPv6Hex, type IpKey, normalizeIp } from "../../shared/net/ip.ts";
import type { FilterDeps } from "./types.ts";

/** One crawlers.txt line: who the crawler is, what its User-Agent contains, its PTR zones. */
export interface CrawlerLine {
  readonly name: string;
  /** Lowercase substring of the User-Agent that claims this crawler. */
  readonly ua: string;
  /** Lowercase PTR name suffixes, each starting with "." (".googlebot.com"). */
  readonly suffixes: readonly string[];
}

/** What is known about a claim: confirmed, refuted, or not (yet) decidable. */
export type Verdict = "verified" | "fake" | "unknown";

/** The resolver a verifier uses; the contract of `FilterDeps.resolveDns`. */
export type ResolveDns = NonNullable<FilterDeps["resolveDns"]>;

/** After a lookup fails (timeout, resolver error), the same claim is not retried for this long. */
export const RETRY_AFTER_FAILURE_MS = 60_000;

/** PTR names tried for the forward check; an address with more is unusual and bounds the work. */
const MAX_PTR_NAMES = 4;

/**
 * The reverse-lookup name of an address: `d.c.b.a.in-addr.arpa` for IPv4, the 32 nibbles in
 * reverse under `ip6.arpa` for IPv6. Deno.resolveDns(…, "PTR") sends its query text verbatim (an
 * address would be looked up as the name "1.2.3.4."), so the caller builds this name.
 */
export function arpaName(key: IpKey): string {
  if (key.v === 4) {
    const n = key.n;
    return `${n & 255}.${(n >>> 8) & 255}.${(n >>> 16) & 255}.${n >>> 24}.in-addr.arpa`;
  }
  return `${key.hex.split("").reverse().join(".")}.ip6.arpa`;
}

/** The canonical text of an address key, as `normalizeIp` writes it for that family. */
export function canonicalAddress(key: IpKey): string {
  return key.v === 4 ? formatIPv4(key.n) : formatIPv6Hex(key.hex);
}

/** A DNS name as compared here: lowercase, no trailing dot. */
function dnsName(raw: string): string {
  const name = raw.toLowerCase();
  return name.endsWith(".") ? name.slice(0, -1) : name;
}

/**
 * Forward-confirmed reverse DNS of one address against a crawler's suffixes: some PTR name ends
 * with a suffix and its A (IPv4) or AAAA (IPv6) answers contain the address → "verified";
 * otherwise (no PTR, no matching name, forward answers without the address) → "fake". Rejects
 * when a lookup that could still have verified the claim failed, so the caller says "unknown".
 */
export async function fcrdns(
  resolve: ResolveDns,
  key: IpKey,
  suffixes: readonly string[],
  timeoutMs: number,
): Promise<"verified" | "fake"> {
  const names: string[] = [];
  for (const raw of await resolve(arpaName(key), "PTR", timeoutMs)) {
    const name = dnsName(raw);
    if (names.includes(name) || !suffixes.some((suffix) => name.endsWith(suffix))) continue;
    names.push(name);
    if (names.length === MAX_PTR_NAMES) break;
  }
  const address = canonicalAddress(key);
  const type = key.v === 4 ? "A" : "AAAA";
  let failure: { error: unknown } | undefined;
  for (const name of names) {
    try {
      const answers = await resolve(name, type, timeoutMs);
      if (answers.some((answer) => normalizeIp(answer) === address)) return "verified";
    } catch (error) {
      // Another name may still verify; only when none does is the claim undecided.
      failure ??= { error };
    }
  }
  if (failure !== undefined) throw failure.error;
  return "fake";
}

interface Entry {
  verdict: "verified" | "fake" | "failed";
  /** Event time of the request that started the lookup. */
  at: number;
}

/** Options of a {@linkcode CrawlerVerifier}. */
export interface CrawlerVerifierOptions {
  /** Absent: nothing is ever looked up and every claim stays unknown. */
  resolveDns: ResolveDns | undefined;
  log: FilterDeps["log"];
  timeoutMs: number;
  /** How long a verified/fake verdict holds, in event-time milliseconds. */
  ttlMs: number;
  /** Most verdicts kept (LRU) and most lookups in flight at once. */
  size: number;
}

/**
 * The FCrDNS verdict cache of one trusted_sources instance. `verdict()` is synchronous: it
 * answers from the cache and, on a miss, starts a lookup in the background and says "unknown",
 * so the request path never waits for DNS. Verdicts are keyed by crawler line and address, kept
 * in an LRU of `size` entries for `ttlMs` of event time; a failed lookup is remembered for
 * {@linkcode RETRY_AFTER_FAILURE_MS} so a dead resolver is not asked on every request.
 */
export class CrawlerVerifier {
  /** Lookups started and lookups that failed (timeout, resolver error). */
  readonly counters = { lookups: 0, errors: 0 };
  readonly #options: CrawlerVerifierOptions;
  /** Recency order: the oldest key is the least recently used. */
  readonly #cache = new OrderedMap<string, Entry>();
  readonly #pending = new Map<string, Promise<void>>();
  #closed = false;

  constructor(options: CrawlerVerifierOptions) {
    this.#options = options;
  }

  /** Verdicts held now (including remembered failures). */
  get size(): number {
    return this.#cache.size;
  }

  /**
   * The verdict for `line` (numbered `lineId`, unique per instance) claimed from `key` at event
   * time `now`; starts a lookup when nothing current is known and none is running or backing off.
   */
  verdict(line: CrawlerLine, lineId: number, key: IpKey, now: number): Verdict {
    if (this.#closed) return "unknown";
    const address = canonicalAddress(key);
    const id = `${lineId} ${address}`;
    const entry = this.#cache.get(id);
    if (entry !== undefined) {
      const age = now - entry.at;
      if (entry.verdict === "failed") {
        if (age < RETRY_AFTER_FAILURE_MS) return "unknown";
      } else if (age < this.#options.ttlMs) {
        this.#cache.touch(id);
        return entry.verdict;
      }
      this.#cache.delete(id);
    }
    this.#start(id, line, key, address, now);
    return "unknown";
  }

  /** Drops verdicts older than the TTL and failures older than the retry delay. */
  sweep(now: number): void {
    for (const [id, entry] of this.#cache) {
      const limit = entry.verdict === "failed" ? RETRY_AFTER_FAILURE_MS : this.#options.ttlMs;
      if (now - entry.at >= limit) this.#cache.delete(id);
    }
  }

  /** Resolves once every lookup in flight now has settled (they never reject). */
  async settled(): Promise<void> {
    await Promise.all([...this.#pending.values()]);
  }

  /** Forgets every verdict; lookups still running complete as no-ops (`settled()` awaits them). */
  close(): void {
    this.#closed = true;
    this.#cache.clear();
  }

  #start(id: string, line: CrawlerLine, key: IpKey, address: string, now: number): void {
    const resolve = this.#options.resolveDns;
    if (resolve === undefined || this.#pending.has(id)) return;
    // Beyond `size` concurrent lookups (a flood of fake claims, a slow resolver) the claim just
    // stays unknown; the next request after one finishes tries again.
    if (this.#pending.size >= this.#options.size) return;
    this.counters.lookups++;
    const lookup = this.#lookup(resolve, id, line, key, address, now);
    this.#pending.set(id, lookup);
  }

  async #lookup(
    resolve: ResolveDns,
    id: string,
    line: CrawlerLine,
    key: IpKey,
    address: string,
    startedAt: number,
  ): Promise<void> {
    let verdict: Entry["verdict"];
    try {
      verdict = await fcrdns(resolve, key, line.suffixes, this.#options.timeoutMs);
    } catch (error) {
      if (this.#closed) return;
      verdict = "failed";
      this.counters.errors++;
      try {
        // Rate-limited per message by the provider of deps.log.
        this.#options.log?.("warn", "trusted_sources: crawler verification failed", {
          crawler: line.name,
          ip: address,
          error: String(error),
          errors: this.counters.errors,
        });
      } catch {
        // A failing log sink must not turn into an unhandled rejection.
      }
    } finally {
      this.#pending.delete(id);
    }
    if (this.#closed) return;
    this.#store(id, { verdict, at: startedAt });
  }

  #store(id: string, entry: Entry): void {
    this.#cache.delete(id);
    this.#cache.set(id, entry);
    while (this.#cache.size > this.#options.size) this.#cache.deleteOldest();
  }
}
