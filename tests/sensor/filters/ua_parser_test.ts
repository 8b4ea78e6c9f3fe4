import assert from "node:assert/strict";
import { UAParser } from "ua-parser-js";
import { knownDevice, uaParser } from "../../../src/sensor/filters/ua_parser.ts";
import { seededRandom } from "../../_support/random.ts";
import type { UaParserConfig } from "../../../src/shared/config/components.ts";
import { ctxFor, rec } from "./_filter_ctx.ts";

const config: UaParserConfig = { enabled: true, skip_if: [], events: [], cache_size: 100 };

function flagsOf(ua: string, cfg: UaParserConfig = config) {
  const f = uaParser(cfg);
  const record = rec({ http_user_agent: ua });
  const ctx = ctxFor(record, 0);
  f.run(record, ctx);
  return { flags: [...ctx.flags.keys()].sort(), events: ctx.events };
}

const CHROME =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
const IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.0 Mobile/15E148 Safari/604.1";
const ANDROID =
  "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36";
const IPAD =
  "Mozilla/5.0 (iPad; CPU OS 13_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0 Mobile/15E148 Safari/604.1";

Deno.test("uaParser() flags empty, bot, tool and mobile user agents", () => {
  assert.deepEqual(flagsOf("").flags, ["ua_empty"]);
  assert.deepEqual(flagsOf("-").flags, ["ua_empty"]);
  assert.deepEqual(flagsOf(CHROME).flags, []);
  assert.deepEqual(flagsOf(IPHONE).flags, ["ua_mobile"]);
  assert.deepEqual(flagsOf(ANDROID).flags, ["ua_mobile"]);
  assert.deepEqual(flagsOf(IPAD).flags, ["ua_mobile"]);
  for (
    const bot of [
      "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
      "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
      "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
      "facebookexternalhit/1.1",
      "Mozilla/5.0 (compatible; Yahoo! Slurp)",
      "Baiduspider+(+http://www.baidu.com/search/spider.htm)",
    ]
  ) assert.deepEqual(flagsOf(bot).flags, ["ua_bot"], bot);
  for (
    const tool of [
      "curl/8.5.0",
      "Wget/1.21.4",
      "python-requests/2.31.0",
      "Go-http-client/1.1",
      "Java/17.0.2",
      "okhttp/4.12.0",
      "libwww-perl/6.72",
      "sqlmap/1.7.2#stable (https://sqlmap.org)",
      "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000003)",
    ]
  ) assert.deepEqual(flagsOf(tool).flags, ["ua_tool"], tool);
});

Deno.test("uaParser() turns the flags listed in events into events, first phase only", () => {
  const cfg = { ...config, events: ["ua_tool", "ua_empty"] };
  assert.deepEqual(flagsOf("curl/8", cfg).events, ["ua_tool"]);
  assert.deepEqual(flagsOf("", cfg).events, ["ua_empty"]);
  assert.deepEqual(flagsOf(IPHONE, cfg).events, [], "ua_mobile is a flag only");
  const f = uaParser(cfg);
  const record = rec({ http_user_agent: "curl/8" });
  const ctx = ctxFor(record, 0, "response");
  f.run(record, ctx);
  assert.equal(ctx.flags.get("ua_tool"), true);
  assert.deepEqual(ctx.events, []);
});

Deno.test("uaParser() caches results within a bounded LRU and answers the same", () => {
  for (const cache_size of [0, 1, 3]) {
    const f = uaParser({ ...config, cache_size });
    const uas = ["curl/1", IPHONE, CHROME, "", "Googlebot/2.1", "curl/1", IPHONE, CHROME];
    const got = [];
    for (let round = 0; round < 3; round++) {
      for (const ua of uas) {
        const record = rec({ http_user_agent: ua });
        const ctx = ctxFor(record, 0);
        f.run(record, ctx);
        got.push([...ctx.flags.keys()].join(","));
      }
    }
    assert.deepEqual(got.slice(8), [...got.slice(0, 8), ...got.slice(0, 8)], `cache ${cache_size}`);
    assert.deepEqual(got.slice(0, 5), ["ua_tool", "ua_mobile", "", "ua_empty", "ua_bot"]);
  }
});

Deno.test("uaParser() rejects an unknown event name at build time", () => {
  assert.throws(
    () => uaParser({ ...config, events: ["ua_robot"] }),
    /ua_parser: events has "ua_robot"/,
  );
});

Deno.test("uaParser() skips the device parse only for browser shapes ua-parser-js agrees on", () => {
  // The reference is ua-parser-js itself: every shape the shortcut takes, with version digits of
  // every length, must be the same device to it (none for desktops, mobile for phones).
  const random = seededRandom(19);
  const digits = () => String(Math.floor(random() * 10 ** (1 + Math.floor(random() * 6))));
  const build = () => Math.floor(random() * 2 ** 31).toString(16).toUpperCase();
  const platforms = [
    () => "Windows NT 10.0; Win64; x64",
    () => "Windows NT 10.0; WOW64",
    () => "Windows NT 10.0",
    () => `Windows NT 6.${Math.floor(random() * 4)}; Win64; x64`,
    () => `Macintosh; Intel Mac OS X ${digits()}_${digits()}_${digits()}`,
    () => `Macintosh; Intel Mac OS X ${digits()}.${digits()}`,
    () => "X11; Linux x86_64",
    () => "X11; Ubuntu; Linux x86_64",
  ];
  const desktops = [
    (p: string) =>
      `Mozilla/5.0 (${p}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${digits()}.0.${digits()}.${digits()} Safari/537.36`,
    (p: string) =>
      `Mozilla/5.0 (${p}) AppleWebKit/${digits()}.${digits()} (KHTML, like Gecko) Chrome/${digits()}.${digits()}.${digits()}.${digits()} Safari/${digits()}.${digits()} Edg/${digits()}.0.${digits()}.${digits()}`,
    (p: string) => `Mozilla/5.0 (${p}; rv:${digits()}.0) Gecko/20100101 Firefox/${digits()}.0`,
    (p: string) =>
      `Mozilla/5.0 (${p}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${digits()}.${digits()} Safari/605.1.15`,
  ];
  const phones = [
    () =>
      `Mozilla/5.0 (Linux; Android ${digits()}; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${digits()}.0.0.0 Mobile Safari/537.36`,
    () =>
      `Mozilla/5.0 (Linux; Android ${digits()}.${digits()}; K) AppleWebKit/${digits()}.${digits()} (KHTML, like Gecko) Chrome/${digits()}.${digits()}.${digits()}.${digits()} Mobile Safari/${digits()}.${digits()}`,
    () =>
      `Mozilla/5.0 (iPhone; CPU iPhone OS ${digits()}_${digits()} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${digits()}.${digits()} Mobile/${build()} Safari/604.1`,
    () =>
      `Mozilla/5.0 (iPhone; CPU iPhone OS ${digits()} like Mac OS X) AppleWebKit/${digits()}.${digits()}.${digits()} (KHTML, like Gecko) Version/${digits()} Mobile/15E148 Safari/${digits()}.${digits()}`,
  ];
  const parser = new UAParser();
  for (let i = 0; i < 4000; i++) {
    const desktop = desktops[i % desktops.length]!(
      platforms[Math.floor(i / 4) % platforms.length]!(),
    );
    assert.equal(knownDevice(desktop), "desktop", desktop);
    const type = parser.setUA(desktop).getDevice().type;
    assert.ok(type !== "mobile" && type !== "tablet" && type !== "wearable", `${desktop}: ${type}`);
    const phone = phones[i % phones.length]!();
    assert.equal(knownDevice(phone), "phone", phone);
    assert.equal(parser.setUA(phone).getDevice().type, "mobile", phone);
  }
  // Anything more than a plain shape goes to the parse: tablets, touch, ARM, models, apps.
  for (
    const ua of [
      IPAD,
      "Mozilla/5.0 (Windows NT 6.2; ARM; Trident/7.0; Touch; rv:11.0) like Gecko",
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
      "Mozilla/5.0 (X11; Linux x86_64; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
      "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
      "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 300.0",
    ]
  ) assert.equal(knownDevice(ua), undefined, ua);
  // And the filter answers as ua-parser-js does on both paths.
  const tablet =
    "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
  assert.equal(parser.setUA(tablet).getDevice().type, "tablet");
  assert.deepEqual(flagsOf(tablet).flags, ["ua_mobile"]);
  assert.deepEqual(flagsOf(ANDROID).flags, ["ua_mobile"]);
  assert.deepEqual(
    flagsOf(
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    ).flags,
    [],
  );
});
