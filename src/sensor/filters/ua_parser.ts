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

// The User-Agents browsers send themselves, varying in version digits only: desktop Chrome,
// Edge and Firefox on Windows, macOS and Linux, Safari on macOS (no device to ua-parser-js), and
// phone Chrome on Android (its reduced "Android N; K" form) and Safari on iPhone (mobile to it).
// A test checks every shape against ua-parser-js; its device parse walks ~200 regexes to say
// the same: ~9 µs that a flood randomising User-Agents pays on every record. Any other UA (a
// model name, a touch token, an app) is parsed.
const DESKTOP_RE =
  /^Mozilla\/5\.0 \((?:Windows NT (?:10\.0|6\.[0-3])(?:; (?:Win64; x64|WOW64))?|Macintosh; Intel Mac OS X \d+[._]\d+(?:[._]\d+)?|X11; (?:Ubuntu; )?Linux x86_64)(?:; rv:\d+\.\d+\) Gecko\/20100101 Firefox\/\d+\.\d+|\) AppleWebKit\/\d+\.\d+(?:\.\d+)? \(KHTML, like Gecko\) (?:Chrome\/\d+\.\d+\.\d+\.\d+ Safari\/\d+\.\d+(?: Edg\/\d+\.\d+\.\d+\.\d+)?|Version\/\d+\.\d+(?:\.\d+)? Safari\/\d+\.\d+(?:\.\d+)?))$/;
const PHONE_RE =
  /^Mozilla\/5\.0 \((?:Linux; Android \d+(?:\.\d+)*; K\) AppleWebKit\/\d+\.\d+ \(KHTML, like Gecko\) Chrome\/\d+\.\d+\.\d+\.\d+ Mobile Safari\/\d+\.\d+|iPhone; CPU iPhone OS \d+(?:_\d+)* like Mac OS X\) AppleWebKit\/\d+(?:\.\d+)* \(KHTML, like Gecko\) Version\/\d+(?:\.\d+)* Mobile\/[0-9A-F]+ Safari\/\d+(?:\.\d+)*)$/;

/** What a browser's own User-Agent says of its device without a parse, or undefined. */
export function knownDevice(ua: string): "desktop" | "phone" | undefined {
  return DESKTOP_RE.test(ua) ? "desktop" : PHONE_RE.test(ua) ? "phone" : undefined;
}

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
    // A tool or crawler string is not a phone, and a browser's own UA says what it is: the
    // expensive device parse is for the rest.
    if (bits !== 0) return bits;
    const known = knownDevice(ua);
    if (known !== undefined) return known === "phone" ? MOBILE : 0;
    const type = parser.setUA(ua).getDevice().type;
    return type === "mobile" || type === "tablet" || type === "wearable" ? MOBILE : 0;
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
