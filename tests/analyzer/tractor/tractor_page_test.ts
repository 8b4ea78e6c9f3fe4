import assert from "node:assert/strict";
import { join } from "node:path";
import {
  colourCounts,
  decodePng,
  type DevTools,
  findChromium,
  runChromium,
  startDevTools,
} from "../../_support/chromium.ts";
import { waitFor } from "../../_support/sensor_process.ts";
import { CLIENTS, HTTP_HOST, USER_AGENT } from "./_clients_capture.ts";
import {
  CLIENTS_PCAP,
  HTTP_CLIENTS,
  HTTP_CLIENTS_PCAP,
  processFile,
  type TractorFixture,
  tractorFixture,
} from "./_tractor_fixture.ts";

const chromium = findChromium();
if (!chromium) {
  console.warn("tractor page test skipped: no chromium on PATH (apt-get install chromium)");
}

/** A listening TrActor with the synthetic and the real capture, both processed (real one last). */
async function withPage(
  fn: (fx: TractorFixture, jobs: { synthetic: number; real: number }, run: Run) => Promise<void>,
): Promise<void> {
  const fx = await tractorFixture({
    listen: true,
    copies: { "clients.pcap": CLIENTS_PCAP, "http-clients.pcap.gz": HTTP_CLIENTS_PCAP },
  });
  const profile = await Deno.makeTempDir({ prefix: "qts-tractor-chromium-" });
  try {
    const synthetic = await processFile(fx, "clients.pcap");
    const real = await processFile(fx, "http-clients.pcap.gz");
    await fn(
      fx,
      { synthetic, real },
      (extra, path, size) =>
        runChromium(chromium!, profile, extra, new URL(path, fx.tractor.url!).href, size),
    );
  } finally {
    await fx.close();
    await Deno.remove(profile, { recursive: true });
  }
}

/** The addresses of the real capture's clients named by what they do. */
function ips(clients: (keyof typeof HTTP_CLIENTS)[]): string[] {
  return clients.map((c) => HTTP_CLIENTS[c]);
}

type Run = (
  extra: string[],
  path: string,
  size?: { width: number; height: number },
) => Promise<string>;

/** Text of an element's subtree in dumped HTML (tags dropped, entities of our text decoded). */
function text(html: string): string {
  return html.replace(/<[^>]+>/g, "").replace(/&amp;/g, "&").replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">").replace(/&quot;/g, '"');
}

/** The client table's rows, in page order: ip → cell text by column key. */
function clientRows(dom: string): Map<string, Record<string, string>> {
  const table = /<table id="clienttable">([\s\S]*?)<\/table>/.exec(dom)?.[1];
  assert.ok(table, "the client table is rendered");
  const rows = new Map<string, Record<string, string>>();
  for (const row of table.matchAll(/<tr[^>]*data-ip="([^"]+)"[^>]*>([\s\S]*?)<\/tr>/g)) {
    const cells: Record<string, string> = {};
    for (const cell of row[2]!.matchAll(/<td[^>]*data-key="([^"]+)"[^>]*>([\s\S]*?)<\/td>/g)) {
      cells[cell[1]!] = text(cell[2]!);
    }
    rows.set(row[1]!, cells);
  }
  return rows;
}

/** "95.1 kB" → [95100, 50]: the size and half its last shown digit. */
function parseBytes(s: string): [number, number] {
  const m = /^(\d+)(\.\d)? (B|kB|MB|GB)$/.exec(s);
  assert.ok(m, `"${s}" is a size with its unit`);
  const unit = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[m[3] as "B"];
  return [Number(m[1]! + (m[2] ?? "")) * unit, (m[2] ? 0.05 : 0.5) * unit];
}

Deno.test({
  name:
    "the page opens on the latest job and shows clients with bytes and URLs from a real capture",
  ignore: chromium === undefined,
  async fn() {
    await withPage(async (fx, jobs, run) => {
      const dom = await run(["--dump-dom"], "/", { width: 1400, height: 2400 });
      // No job in the URL: the latest finished one.
      assert.match(dom, new RegExp(`Job ${jobs.real} — http-clients\\.pcap\\.gz \\(36 flows`));
      const rows = clientRows(dom);
      // Ranked by requests: the keep-alive crawler (1 flow) above the 30-connection rotator.
      assert.deepEqual([...rows.keys()], ips(["crawler", "rotator", "browser", "legacy"]));
      const api = (await fx.call(`/file/${jobs.real}/clients`)).body as Record<string, number>[];
      for (const c of api) {
        const row = rows.get(String(c.ip))!;
        const [shown, error] = parseBytes(row.bytes!);
        assert.ok(
          Math.abs(shown - c.bytes!) <= error,
          `${c.ip}: ${row.bytes} ≈ ${c.bytes}`,
        );
        assert.match(
          row.duration_ms!,
          /^\d+(\.\d+)? (ms|s)$|^\d+ min \d+ s$/,
          "duration with unit",
        );
        assert.equal(row.requests, String(c.requests));
        assert.match(row.urls!, /^http:\/\/www\.qts\.test\//, `${c.ip} shows its URLs`);
      }
      const crawler = rows.get(HTTP_CLIENTS.crawler)!;
      assert.equal(crawler.urls, "http://www.qts.test/api/items × 200");
      assert.equal(crawler.flows, "1");
      assert.equal(crawler.status_codes, "200 × 200");
      assert.match(
        rows.get(HTTP_CLIENTS.rotator)!.user_agents_distinct!,
        /rotator\/\d+\.0 × 3.*\+ 7 more$/,
      );
      assert.match(rows.get(HTTP_CLIENTS.legacy)!.status_codes!, /301 × 1/);
      // Column headers carry the units the cells use; the table sorts by requests.
      assert.match(dom, /class="sortable num sorted" data-key="requests">HTTP requests ▼/);
      // The timeline: stacked bars of the http label, and a legend naming the bucket.
      assert.ok((dom.match(/<rect [^>]*class="tl" data-label="http"/g) ?? []).length >= 5);
      assert.match(dom, /Bytes per \d+(\.\d+)? (ms|s) \(UTC\), by flow start:/);
      // The top client is chosen: its details and its flows.
      assert.match(dom, /User-Agents \(1\)/);
      assert.match(
        text(dom),
        new RegExp(`Flows of client ${HTTP_CLIENTS.crawler.replaceAll(".", "\\.")}`),
      );
      assert.match(dom, /id="flowrange">flows 1–1 of 1</);
    });
  },
});

Deno.test({
  name: "a shared link opens its job and client; a screenshot of the real capture is readable",
  ignore: chromium === undefined,
  async fn() {
    await withPage(async (_fx, jobs, run) => {
      // The link of the synthetic job's Chicago client: GeoIP city, agent, label bars.
      const chicago = await run(
        ["--dump-dom"],
        `/?job=${jobs.synthetic}&client=${CLIENTS.chicago}`,
      );
      for (
        const t of [CLIENTS.chicago, CLIENTS.moscow, "Chicago", USER_AGENT, "http " + HTTP_HOST]
      ) {
        assert.ok(chicago.includes(t), `the linked job shows ${t}`);
      }
      for (const label of ["http", "vk", "ssh"]) {
        assert.ok(chicago.includes(`<g class="bar" data-label="${label}"`), `bar for ${label}`);
      }
      // The rotator's link: all ten agents with their counts, its 30 flows paged by 50.
      const rotator = await run(
        ["--dump-dom"],
        `/?job=${jobs.real}&client=${HTTP_CLIENTS.rotator}`,
      );
      assert.match(rotator, /User-Agents \(10\)/);
      assert.match(rotator, /id="flowrange">flows 1–30 of 30</);
      // A sorted view is a link too: by flows, ascending (ties: more bytes first).
      const byFlows = await run(["--dump-dom"], `/?job=${jobs.real}&sort=flows&order=asc`);
      assert.deepEqual(
        [...clientRows(byFlows).keys()],
        ips(["crawler", "legacy", "browser", "rotator"]),
      );
      assert.match(byFlows, /class="sortable num sorted" data-key="flows">Flows ▲/);

      const png = join(Deno.env.get("TMPDIR") ?? "/tmp", "qts-tractor-page.png");
      await run([`--screenshot=${png}`], "/", { width: 1400, height: 2400 });
      console.log(`tractor page screenshot: ${png}`);
      const img = await decodePng(await Deno.readFile(png));
      assert.equal(img.width, 1400);
      assert.equal(img.height, 2400);
      // Not blank: many colours, a good share of pixels off the background, the http colour
      // (#2f6fde, the first label's) in the charts and timeline.
      const counts = colourCounts(img);
      const pixels = img.width * img.height;
      const background = Math.max(...counts.values());
      assert.ok(counts.size > 50, `${counts.size} colours`);
      assert.ok(pixels - background > pixels * 0.1, `${pixels - background} non-background pixels`);
      assert.ok((counts.get(0x2f6fde) ?? 0) > 2000, "label colour present");
    });
  },
});

/** Clicks the element `selector` names with the mouse, as a user would (scrolled into view). */
async function click(page: DevTools, selector: string): Promise<void> {
  const at = await page.eval<{ x: number; y: number }>(`(() => {
    const e = document.querySelector(${JSON.stringify(selector)});
    e.scrollIntoView({ block: "center" });
    const r = e.getBoundingClientRect();
    return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
  })()`);
  for (const type of ["mousePressed", "mouseReleased"]) {
    await page.send("Input.dispatchMouseEvent", { type, ...at, button: "left", clickCount: 1 });
  }
}

const ROW_ORDER =
  `[...document.querySelectorAll("#clienttable tr[data-ip]")].map((tr) => tr.dataset.ip)`;

/** Waits until the page's client rows are those of `clients`, in that order. */
async function rowsInOrder(
  page: DevTools,
  clients: (keyof typeof HTTP_CLIENTS)[],
): Promise<void> {
  const order = ips(clients);
  await waitFor(`client rows ${order.join(", ")}`, async () => {
    const rows = await page.eval<string[]>(ROW_ORDER);
    return JSON.stringify(rows) === JSON.stringify(order) ? true : undefined;
  });
}

Deno.test({
  name:
    "at 1400 px every client column is in view; a header click sorts, the timeline switches to flows",
  ignore: chromium === undefined,
  async fn() {
    await withPage(async (fx, jobs) => {
      const profile = await Deno.makeTempDir({ prefix: "qts-tractor-devtools-" });
      const browser = await startDevTools(chromium!, profile, { width: 1400, height: 1000 });
      try {
        const { page } = browser;
        await page.send("Page.navigate", { url: fx.tractor.url! });
        await rowsInOrder(page, ["crawler", "rotator", "browser", "legacy"]);

        // Every column header, and every cell, lies within the viewport: no sideways scroll.
        const layout = await page.eval<{
          viewport: number;
          scroll: number;
          box: number;
          headers: { key: string; left: number; right: number; width: number }[];
          cellsRight: number;
        }>(`(() => {
          const box = document.getElementById("clients");
          const rect = (e) => e.getBoundingClientRect();
          return {
            viewport: document.documentElement.clientWidth,
            scroll: box.scrollWidth,
            box: box.clientWidth,
            headers: [...document.querySelectorAll("#clienttable th")].map((th) =>
              ({ key: th.dataset.key, left: rect(th).left, right: rect(th).right, width: rect(th).width })),
            cellsRight: Math.max(...[...document.querySelectorAll("#clienttable td")].map((td) => rect(td).right)),
          };
        })()`);
        assert.equal(layout.viewport, 1400);
        assert.deepEqual(layout.headers.map((h) => h.key), [
          "ip",
          "country",
          "flows",
          "packets",
          "bytes",
          "duration_ms",
          "requests",
          "user_agents_distinct",
          "hosts",
          "urls",
          "status_codes",
          "labels",
        ]);
        for (const h of layout.headers) {
          assert.ok(
            h.left >= 0 && h.right <= layout.viewport,
            `${h.key} in view: ${h.left}–${h.right}`,
          );
          assert.ok(h.width >= 40, `${h.key} is ${h.width} px wide`);
        }
        assert.ok(layout.cellsRight <= layout.viewport, `cells end at ${layout.cellsRight}`);
        assert.ok(
          layout.scroll <= layout.box,
          `no sideways scroll (${layout.scroll} > ${layout.box})`,
        );

        // The rotator's agents differ at their end: each one shown keeps its own version.
        const agents = await page.eval<string[]>(
          `[...document.querySelectorAll('#clienttable tr[data-ip="${HTTP_CLIENTS.rotator}"] td[data-key="user_agents_distinct"] > div > div')].map((d) => d.textContent)`,
        );
        assert.equal(agents.length, 4, agents.join(" | "));
        const versions = agents.slice(0, 3).map((a) => /rotator\/(\d+)\.0 × 3$/.exec(a)?.[1]);
        assert.ok(versions.every((v) => v !== undefined), agents.join(" | "));
        assert.equal(new Set(versions).size, 3, `three different agents: ${agents.join(" | ")}`);
        assert.equal(agents[3], "+ 7 more");

        // A click on a column header sorts by it, descending, then ascending.
        await click(page, '#clienttable th[data-key="flows"]');
        await rowsInOrder(page, ["rotator", "browser", "crawler", "legacy"]);
        assert.equal(
          await page.eval<string>(`document.querySelector("#clienttable th.sorted").textContent`),
          "Flows ▼",
        );
        assert.match(await page.eval<string>("location.search"), /sort=flows&order=desc/);
        await click(page, '#clienttable th[data-key="flows"]');
        await rowsInOrder(page, ["crawler", "legacy", "browser", "rotator"]);

        // The timeline's switch: bytes, then flows, its axis topped by the busiest bucket.
        const legend = `document.querySelector("#timeline .chips .muted").textContent`;
        const axis =
          `[...document.querySelectorAll("#timelinechart > text")].map((t) => t.textContent)`;
        assert.match(await page.eval<string>(legend), /^Bytes per /);
        assert.ok(
          (await page.eval<string[]>(axis)).slice(0, 5).every((t) => / (B|kB|MB)$/.test(t)),
        );
        await click(page, '#metric button[data-metric="flows"]');
        await waitFor(
          "the flows timeline",
          async () => /^Flows per /.test(await page.eval<string>(legend)) ? true : undefined,
        );
        const timeline = (await fx.call(`/file/${jobs.real}/timeline`)).body as {
          buckets: { start_unix_ms: number; flows: number }[];
        };
        const perBucket = new Map<number, number>();
        for (const b of timeline.buckets) {
          perBucket.set(b.start_unix_ms, (perBucket.get(b.start_unix_ms) ?? 0) + b.flows);
        }
        const ticks = (await page.eval<string[]>(axis)).slice(0, 5);
        assert.equal(ticks[4], `${Math.max(...perBucket.values())} flows`);
        assert.ok(ticks.every((t) => /^\d+ flows$/.test(t)), ticks.join(", "));
        assert.equal(
          await page.eval<string>(`document.querySelector("#metric button.on").dataset.metric`),
          "flows",
        );
      } finally {
        await browser.stop();
        await Deno.remove(profile, { recursive: true });
      }
    });
  },
});
