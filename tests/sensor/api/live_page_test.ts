import assert from "node:assert/strict";
import { join } from "node:path";
import { parseIPv4 } from "../../../src/shared/net/ip.ts";
import { emptyRecord, encodeHeader, encodeRecord } from "../../../src/sensor/wire/mod.ts";
import { pyzmqAvailable } from "../../_support/pyzmq_available.ts";
import { pyzmqPeer } from "../../_support/pyzmq_peer.ts";
import { freePort, startSensor, waitFor } from "../../_support/sensor_process.ts";
import { apiFixture } from "./_api_fixture.ts";
import { findChromium, startDevTools } from "../../_support/chromium.ts";

const chromium = findChromium();
const pyzmq = pyzmqAvailable();
const skip = chromium === undefined ? "no chromium on PATH (apt-get install chromium)" : pyzmq;
if (skip) console.warn(`live page browser test skipped: ${skip}`);

Deno.test("GET /ui answers the page as HTML with a nonce CSP and no outside resources", async () => {
  const f = await apiFixture();
  try {
    const response = await f.app.request("/ui");
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
    const csp = response.headers.get("content-security-policy") ?? "";
    const nonce = /script-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
    assert.ok(nonce, `a script nonce in ${csp}`);
    assert.match(csp, /^default-src 'self'; /);
    assert.ok(csp.includes(`style-src 'nonce-${nonce}'`));
    assert.ok(csp.includes("frame-ancestors 'none'") && csp.includes("object-src 'none'"));
    assert.ok(!csp.includes("unsafe-inline") && !csp.includes("unsafe-eval"));
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    const html = await response.text();
    assert.ok(html.startsWith("<!doctype html>"));
    assert.ok(html.includes(`<script nonce="${nonce}">`));
    assert.ok(html.includes(`<style nonce="${nonce}">`));
    assert.equal(html.match(/<script/g)?.length, 1, "one inline script");
    assert.ok(!/\b(src|href)="(https?:)?\/\//.test(html), "nothing loaded from elsewhere");
    // A fresh nonce per answer.
    const again = (await f.app.request("/ui")).headers.get("content-security-policy");
    assert.notEqual(again, csp);
    // Other unknown paths still answer the API's 400 error object.
    assert.equal((await f.call("GET", "/")).status, 400);
  } finally {
    await f.close();
  }
});

Deno.test("GET /ui with api_token needs the token, in the query or as a bearer header", async () => {
  const f = await apiFixture({ token: "s3cret" });
  try {
    const none = await f.call("GET", "/ui");
    assert.equal(none.status, 401);
    assert.equal(none.body.status, "error");
    assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="qts"');
    assert.equal(none.headers.get("content-security-policy"), null);
    assert.equal((await f.call("GET", "/ui?token=s3cres")).status, 401);
    assert.equal((await f.call("GET", "/ui?token=")).status, 401);
    const query = await f.app.request("/ui?token=s3cret");
    assert.equal(query.status, 200);
    assert.ok((await query.text()).includes("<title>qts live</title>"));
    const header = await f.call("GET", "/ui", undefined, { authorization: "Bearer s3cret" });
    assert.equal(header.status, 200);
    // The query token opens the page only: the API itself still wants the header.
    assert.equal((await f.call("GET", "/bans?token=s3cret")).status, 401);
    assert.equal((await f.call("GET", "/healthz")).status, 200);
  } finally {
    await f.close();
  }
});

// --- The page in headless Chromium against a running `qts serve` ---------------------------

const TOKEN = "live-page-token";
const BLACK_IP = "198.51.100.9";
const PROBE_IP = "203.0.113.50";
/** Attacker-chosen text that must show up as text, never as markup. */
const HOSTILE_URL = "/app/.env?x=<img src=x onerror=alert(1)>";
const HOSTILE_UA = "Mozilla/5.0 <script>alert(2)</script>";

let requestId = 0;
function message(
  domain: number,
  ip: string,
  url: string,
  over: Partial<ReturnType<typeof emptyRecord>> = {},
): Uint8Array[] {
  const at = Date.now() / 1000;
  return [
    encodeHeader(domain),
    encodeRecord({
      ...emptyRecord(),
      req_type: 1,
      status: 200,
      qrator_request_id: `live-${++requestId}`,
      timestamp: Math.floor(at),
      msec: at.toFixed(3),
      remote_ip: parseIPv4(ip)!,
      method: "GET",
      url,
      host: "shop.example",
      http_user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
      ...over,
    }),
  ];
}

/** Ordinary visitors on both domains. */
function visitors(round: number): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  for (let i = 0; i < 12; i++) {
    out.push(message(i % 3 === 0 ? 8985 : 8984, `192.0.2.${10 + i}`, `/catalog/${round}/${i}`));
  }
  return out;
}

Deno.test({
  name: "the live page renders bans, evidence, modes and charts of a running qts serve in Chromium",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "qts-live-page-" });
    const output = await Deno.makeTempDir({ prefix: "qts-live-page-output-" });
    const [input, outbound, apiPort] = [freePort(), freePort(), freePort()];
    await Deno.mkdir(join(dir, "filters"));
    // Domain 8984 black-lists a /24 (the embedded `fixed` projection bans it at once); the
    // embedded `probe` projection bans 3 probes within 2 minutes.
    await Deno.writeTextFile(
      join(dir, "filters", "8984.json"),
      JSON.stringify({
        fixed_lists: { lists: [{ name: "bad", type: "black", entries: ["198.51.100.0/24"] }] },
      }),
    );
    const ini = join(dir, "qts.ini");
    await Deno.writeTextFile(
      ini,
      `[tsng]\ninput = tcp://127.0.0.1:${input}\nforce_domains = 8984, 8985\n` +
        `api_server_port = ${apiPort}\napi_token = ${TOKEN}\n` +
        `filters_config_dir = ${join(dir, "filters")}\ncomponents_config_dir =\n` +
        `state_dir = ${join(dir, "state")}\nautodiscover = false\nworkers = 0\n` +
        `hostname = live-page\n[tsng:qpc]\noutbound = tcp://127.0.0.1:${outbound}\n`,
    );
    const sensor = await startSensor(ini);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const push = await pyzmqPeer({
      type: "PUSH",
      mode: "connect",
      endpoint: `tcp://127.0.0.1:${input}`,
    });
    let browser: Awaited<ReturnType<typeof startDevTools>> | undefined;
    try {
      await push.sendMany([
        ...visitors(0),
        message(8984, BLACK_IP, "/login"),
        message(8984, PROBE_IP, "/.env", { status: 404, http_user_agent: HOSTILE_UA }),
        message(8984, PROBE_IP, "/.git/config", { status: 404, http_user_agent: HOSTILE_UA }),
        message(8984, PROBE_IP, HOSTILE_URL, { status: 404, http_user_agent: HOSTILE_UA }),
        // Input the sensor drops (an unknown domain), for the drop counters.
        message(4242, "192.0.2.99", "/"),
      ]);
      // The hostile UA is also an attack tool's mark (`<script`): the scanner projection bans too.
      const bans = await waitFor("three bans", async () => {
        const body = await (await fetch(`${sensor.api}/bans`, { headers: auth })).json();
        const data = body.data as { ip: string; projection: string }[];
        return data.length >= 3 ? data : undefined;
      });
      assert.deepEqual(
        bans.map((b) => `${b.ip} ${b.projection}`).sort(),
        [`${BLACK_IP} fixed`, `${PROBE_IP} probe`, `${PROBE_IP} scanner`],
      );

      browser = await startDevTools(chromium!, join(dir, "chromium"));
      const { page } = browser;
      await page.send("Page.navigate", { url: `${sensor.api}/ui?token=${TOKEN}&every=0.5` });
      const polls = () => page.eval<number>("Number(document.body?.dataset.polls ?? 0)");
      await waitFor("the page's first poll", async () => (await polls()) >= 1 ? true : undefined);
      // The token left the address bar and lives in the tab's session storage.
      assert.equal(await page.eval<string>("location.search"), "?every=0.5");
      assert.equal(await page.eval<string>("sessionStorage.getItem('qts-token')"), TOKEN);

      // Traffic while the page polls (a few rounds, so the charts have a shape): the charts plot
      // deltas between polls.
      const seriesUp = `[...document.querySelectorAll("#events-chart polyline.series")]
        .some((p) => Number(p.dataset.max) > 0) &&
        [...document.querySelectorAll("#ingest-chart polyline.series")]
        .some((p) => p.dataset.series === "records/s" && Number(p.dataset.max) > 0)`;
      for (let round = 1; round <= 4 || !(await page.eval<boolean>(seriesUp)); round++) {
        assert.ok(round < 60, "the charts never showed a rate above zero");
        const before = await polls();
        await push.sendMany([
          ...visitors(round),
          message(8984, BLACK_IP, `/again/${round}`),
          message(8984, PROBE_IP, "/.env", { status: 404, http_user_agent: HOSTILE_UA }),
        ]);
        await waitFor("another poll", async () => (await polls()) >= before + 2 ? true : undefined);
      }

      // The newest ban is open in the evidence panel; open the probe ban for its samples.
      await page.eval(
        `document.querySelector('#bans tr.ban[data-ip="${PROBE_IP}"]').click(); true`,
      );
      await waitFor("the probe's evidence", async () =>
        (await page.eval<boolean>(
            `!!document.querySelector('#evidence .ev[data-ip="${PROBE_IP}"] td.sample-url')`,
          ))
          ? true
          : undefined);
      // The DOM as rendered, and its screenshot.
      const dom = await page.eval<string>("document.documentElement.outerHTML");
      const metrics = await page.send("Page.getLayoutMetrics");
      const size = metrics.cssContentSize as { width: number; height: number };
      const shot = await page.send("Page.captureScreenshot", {
        format: "png",
        captureBeyondViewport: true,
        clip: { x: 0, y: 0, width: 1400, height: Math.ceil(size.height), scale: 1 },
      });
      const png = Uint8Array.from(atob(String(shot.data)), (c) => c.charCodeAt(0));
      const pngPath = join(output, "live_page.png");
      await Deno.writeFile(pngPath, png);
      await Deno.writeTextFile(join(output, "live_page.html"), dom);
      console.log(`live page screenshot: ${pngPath}`);

      assert.deepEqual([...png.subarray(1, 4)], [...new TextEncoder().encode("PNG")]);
      const view = new DataView(png.buffer);
      assert.equal(view.getUint32(16), 1400, "screenshot width");
      assert.ok(view.getUint32(20) >= 900, "screenshot height");

      const banRows = await page.eval<string[]>(
        `[...document.querySelectorAll("#bans tr.ban")].map((r) => r.innerText.replace(/\\s+/g, " "))`,
      );
      assert.equal(banRows.length, 3, banRows.join("\n"));
      assert.ok(banRows.some((r) => r.includes(BLACK_IP) && r.includes("fixed")), banRows[0]);
      assert.ok(banRows.some((r) => r.includes(PROBE_IP) && r.includes("probe")), banRows[1]);
      assert.ok(banRows.some((r) => r.includes(PROBE_IP) && r.includes("scanner")), banRows[2]);
      // Evidence: the probe's rule and its sample requests, attacker text shown as text.
      const evidence = await page.eval<string>(`document.querySelector("#evidence").innerText`);
      for (const want of ["tsng.probe", "evidence: 3 events within 120 s", "probe_file", "/.env"]) {
        assert.ok(evidence.includes(want), `evidence shows ${want}:\n${evidence}`);
      }
      assert.ok(evidence.includes(HOSTILE_URL), "the hostile URL as text");
      assert.ok(evidence.includes(HOSTILE_UA), "the hostile UA as text");
      assert.equal(
        await page.eval<number>("document.querySelectorAll('img, main script').length"),
        0,
      );
      assert.ok(dom.includes("/app/.env?x=&lt;img src=x onerror=alert(1)&gt;"));
      // Top offenders, modes per domain, header figures.
      const offenders = await page.eval<string[]>(
        `[...document.querySelectorAll("#offenders tr.offender")].map((r) => r.dataset.ip)`,
      );
      assert.deepEqual(offenders, [PROBE_IP, BLACK_IP], "the IP with two bans first");
      const modes = await page.eval<Record<string, string>>(`Object.fromEntries(
        [...document.querySelectorAll("#modes tr[data-domain]")].map((r) =>
          [r.dataset.domain, r.innerText.replace(/\\s+/g, " ")]))`);
      assert.deepEqual(Object.keys(modes).sort(), ["8984", "8985"]);
      assert.match(modes["8984"]!, /location_rate/, "nursery projections are named");
      assert.equal(await page.eval<string>("document.getElementById('k-bans').textContent"), "3");
      assert.notEqual(
        await page.eval<string>("document.getElementById('k-drops').textContent"),
        "0",
      );
      // Charts: inline SVG, one series per filter family with events, records/s above zero.
      const series = await page.eval<string[]>(
        `[...document.querySelectorAll("#events-chart svg polyline.series")].map((p) => p.dataset.series)`,
      );
      assert.ok(series.includes("fixed_lists") && series.includes("probe_detector"), `${series}`);
      assert.ok(dom.includes('data-series="records/s"'));
      const status = await page.eval<string>("document.getElementById('status').className");
      assert.equal(status, "", "no failed poll");
    } finally {
      await browser?.stop();
      await push.close();
      await sensor.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
