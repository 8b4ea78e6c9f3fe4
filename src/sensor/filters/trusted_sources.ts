import type { TrustedSourcesConfig } from "../../shared/config/components.ts";
import { ipKey, isPrivateAddress } from "../../shared/net/ip.ts";
import type { HttpRecord } from "../wire/record.ts";
import { type CrawlerLine, CrawlerVerifier } from "./_crawler_verifier.ts";
import { literalSet, loadList } from "./_detection_lists.ts";
import { memo } from "./_memo.ts";
import type { FilterDeps, FilterInstance, RequestContext } from "./types.ts";

/** Flag on a request from a private, loopback, link-local or CGNAT address. */
export const PRIVATE_SOURCE_FLAG = "private_source";
/** Flag on a request whose User-Agent claims a crawler listed in crawlers.txt. */
export const CRAWLER_CLAIMED_FLAG = "crawler_claimed";
/** Flag on a claimed crawler whose address passed forward-confirmed reverse DNS. */
export const CRAWLER_VERIFIED_FLAG = "crawler_verified";
/** Flag on a claimed crawler whose address failed forward-confirmed reverse DNS. */
export const CRAWLER_FAKE_FLAG = "crawler_fake";
/** Event emitted with {@linkcode CRAWLER_FAKE_FLAG}. */
export const FAKE_CRAWLER_EVENT = "fake_crawler";

/** Counters of a trusted_sources instance, for /metrics. */
export interface TrustedSourcesCounters {
  /** Claimed-crawler requests given each verdict. */
  verified: number;
  fake: number;
  unknown: number;
  /** DNS verifications started. */
  lookups: number;
  /** Verifications that failed by timeout or resolver error (their claims stay unknown). */
  errors: number;
}

/** A trusted_sources instance: a filter plus its counters. */
export interface TrustedSourcesInstance extends FilterInstance {
  sweep(now: number): void;
  close(): void;
  counters(): TrustedSourcesCounters;
  /** Resolves once the verifications in flight now have settled (tests, orderly shutdown). */
  settled(): Promise<void>;
}

/**
 * trusted_sources: flags requests from private sources (health checks, internal monitoring) and
 * checks User-Agents that claim a search-engine crawler (crawlers.txt plus `extra_crawlers`,
 * extras first, first match wins) by forward-confirmed reverse DNS. A verified claim gets
 * `crawler_verified`, a refuted one `crawler_fake` and the event `fake_crawler`; a claim that
 * cannot be decided yet (lookup running or failed, no resolver) gets only `crawler_claimed`, so
 * DNS trouble never counts against a client. DNS runs in the background (`deps.resolveDns`):
 * the filter is synchronous and a request sees the verdict of earlier lookups only.
 */
export async function trustedSources(
  config: TrustedSourcesConfig,
  deps: FilterDeps = {},
): Promise<TrustedSourcesInstance> {
  // Extras are checked even when crawler checks are off, so a bad entry is refused when given.
  const crawlers = parseCrawlers(config.extra_crawlers, (i) => `extra_crawlers line ${i + 1}`);
  if (config.crawlers && config.crawler_list !== "") {
    const file = config.crawler_list;
    const listed = await loadList(file, deps, "trusted_sources");
    crawlers.push(...parseCrawlers(listed, (i) => `${file} entry ${i + 1}`));
  }
  if (!config.crawlers) crawlers.length = 0;
  const privateRanges = config.private_ranges;
  const verifier = new CrawlerVerifier({
    // Bound: a provider may implement these as methods of its deps object.
    resolveDns: deps.resolveDns?.bind(deps),
    log: deps.log?.bind(deps),
    timeoutMs: config.dns_timeout_ms,
    ttlMs: config.cache_ttl * 1000,
    size: config.cache_size,
  });
  const counters = { verified: 0, fake: 0, unknown: 0 };

  const anyCrawler = literalSet(crawlers.map((c) => c.ua));
  /** The crawlers.txt line a User-Agent claims (first match wins), or -1. */
  const claimOf = memo((userAgent: string): number => {
    // One case-insensitive pass over the UA first: most requests claim no crawler at all.
    if (anyCrawler === undefined || !anyCrawler.test(userAgent)) return -1;
    const ua = userAgent.toLowerCase();
    for (let i = 0; i < crawlers.length; i++) if (ua.includes(crawlers[i]!.ua)) return i;
    return -1;
  });
  return {
    name: "trusted_sources",
    run: function trustedSources(record: HttpRecord, ctx: RequestContext): void {
      // The response half of a request runs with fresh flags: set them again (the per-response
      // filters and the projections skip on them), but count and emit on the first half only.
      const first = ctx.phase === "first";
      const key = ipKey(ctx.ip);
      const isPrivate = key !== undefined && isPrivateAddress(key);
      if (privateRanges && isPrivate) ctx.flags.set(PRIVATE_SOURCE_FLAG, true);
      const lineId = claimOf(record.http_user_agent);
      if (lineId < 0) return;
      ctx.flags.set(CRAWLER_CLAIMED_FLAG, true);
      // The PTR of a private address is whatever the local resolver says and proves nothing
      // about who runs the crawler, so it is not asked; the claim stays unknown.
      const verdict = key === undefined || isPrivate
        ? "unknown"
        : verifier.verdict(crawlers[lineId]!, lineId, key, ctx.now);
      if (first) counters[verdict]++;
      if (verdict === "verified") ctx.flags.set(CRAWLER_VERIFIED_FLAG, true);
      else if (verdict === "fake") {
        ctx.flags.set(CRAWLER_FAKE_FLAG, true);
        if (first) ctx.events.push(FAKE_CRAWLER_EVENT);
      }
    },
    sweep(now: number): void {
      verifier.sweep(now);
    },
    close(): void {
      verifier.close();
    },
    counters: () => ({ ...counters, ...verifier.counters }),
    settled: () => verifier.settled(),
  };
}

/**
 * Parses crawlers.txt lines: `<name> <ua-substring> <suffix>[,<suffix>…]`, compared lowercase.
 * Suffixes must start with "." so that a PTR name matches on a label boundary only.
 */
function parseCrawlers(lines: readonly string[], where: (i: number) => string): CrawlerLine[] {
  return lines.map((text, i) => {
    const fail = (why: string): never => {
      throw new TypeError(`Cannot build trusted_sources: ${where(i)} "${text}": ${why}`);
    };
    const fields = text.trim().toLowerCase().split(/\s+/);
    if (fields.length !== 3) {
      fail("expected <name> <ua-substring> <suffix>[,<suffix>…]");
    }
    const [name, ua, list] = fields as [string, string, string];
    const suffixes = list.split(",");
    for (const suffix of suffixes) {
      if (!/^(\.[a-z0-9_-]+)+$/.test(suffix)) {
        fail(`suffix "${suffix}" is not a DNS suffix starting with "." (like ".googlebot.com")`);
      }
    }
    return { name, ua, suffixes };
  });
}
