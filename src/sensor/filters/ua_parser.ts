import { UAParser } from "ua-parser-js";
import type { UaParserConfig } from "../../shared/config/components.ts";
import type { HttpRecord } from "../wire/record.ts";
import { memo } from "./_memo.ts";
import type { FilterDeps, FilterInstance, RequestContext } from "./types.ts";

/** The flags ua_parser sets, and so the names `events` may list. */
export const UA_FLAGS = ["ua_empty", "ua_bot", "ua_tool", "ua_mobile"] as const;

const EMPTY = 1;
const BOT = 2;
const TOOL = 4;
const MOBILE = 8;
const BITS = [EMPTY, BOT, TOOL, MOBILE] as const;

// Self-declared crawlers: "…bot", "crawler", "spider" and the well-known names without them.
const BOT_RE =
  /bot\b|bot[/_-]|crawl|spider|slurp|mediapartners|facebookexternalhit|ia_archiver|bingpreview|feedfetcher|yahoo! |lighthouse|pingdom|uptimerobot|statuscake|site24x7|headlesschrome|phantomjs/i;
// Programmatic clients and scanners: libraries and command-line tools that name themselves.
const TOOL_RE =
  /^(?:curl|wget|python-requests|python-urllib|python-httpx|python\/|aiohttp|httpx|go-http-client|java\/|okhttp|apache-httpclient|libwww-perl|lwp::|php\/|guzzlehttp|ruby|axios|node-fetch|node|undici|got |httpie|powershell|winhttp|dart:io|reqwest|rest-client|restsharp|postmanruntime|insomnia|scrapy|libcurl|http_request2|fasthttp|hackney|faraday|mechanize)\b|\b(?:sqlmap|nikto|nmap|masscan|zgrab|nuclei|wpscan|dirbuster|gobuster|feroxbuster|ffuf|wfuzz|acunetix|netsparker|zmeu|jorgee|httpclient|scrapy)\b/i;

/**
 * ua_parser (SPEC §4 step 1): classifies the User-Agent and sets `ua_empty` (absent or "-"),
 * `ua_bot` (self-declared crawler), `ua_tool` (curl, wget, python-requests, Go-http-client,
 * scanners…), `ua_mobile` (ua-parser-js device type mobile, tablet or wearable). Flags listed
 * in `events` are also emitted as events of the same name. Flags are set on both phases (the
 * response half runs with fresh flags); events are emitted on the "first" phase only, once per
 * request. Results are kept in an LRU cache of `cache_size` UAs (a memo: a UA is judged by
 * its first MEMO_KEY_MAX characters), since parsing costs ~20 µs and real traffic repeats a
 * few thousand UAs.
 */
export function uaParser(config: UaParserConfig, _deps: FilterDeps = {}): FilterInstance {
  let eventBits = 0;
  for (const name of config.events) {
    const i = (UA_FLAGS as readonly string[]).indexOf(name);
    if (i < 0) {
      throw new TypeError(
        `Cannot build ua_parser: events has "${name}", expected one of ${UA_FLAGS.join(", ")}`,
      );
    }
    eventBits |= BITS[i]!;
  }
  const parser = new UAParser();

  const parse = (ua: string): number => {
    if (ua === "" || ua === "-") return EMPTY;
    let bits = 0;
    if (BOT_RE.test(ua)) bits |= BOT;
    if (TOOL_RE.test(ua)) bits |= TOOL;
    // A tool or crawler string is not a phone; skip the expensive device parse for it.
    if (bits === 0) {
      const type = parser.setUA(ua).getDevice().type;
      if (type === "mobile" || type === "tablet" || type === "wearable") bits |= MOBILE;
    }
    return bits;
  };
  // cache_size 0 caches nothing; either way a UA is judged by its head (see memo).
  const classify = memo(parse, config.cache_size);

  return {
    name: "ua_parser",
    run: function uaParser(record: HttpRecord, ctx: RequestContext): void {
      const bits = classify(record.http_user_agent);
      if (bits === 0) return;
      for (let i = 0; i < 4; i++) {
        const bit = BITS[i]!;
        if ((bits & bit) === 0) continue;
        ctx.flags.set(UA_FLAGS[i]!, true);
        if ((eventBits & bit) !== 0 && ctx.phase === "first") ctx.events.push(UA_FLAGS[i]!);
      }
    },
  };
}
