import assert from "node:assert/strict";
import { join } from "node:path";
import { CLIENTS, HTTP_HOST, USER_AGENT } from "./_clients_capture.ts";
import { processFile, tractorFixture } from "./_tractor_fixture.ts";

function findChromium(): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
      try {
        if (Deno.statSync(join(dir, name)).isFile) return join(dir, name);
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

const chromium = findChromium();
if (!chromium) {
  console.warn("tractor page test skipped: no chromium on PATH (apt-get install chromium)");
}

async function runChromium(profile: string, extra: string[], url: string): Promise<string> {
  const out = await new Deno.Command(chromium!, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      "--window-size=1280,900",
      // Virtual time lets the page's fetches and rendering finish before the dump/screenshot.
      "--virtual-time-budget=10000",
      ...extra,
      url,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  if (!out.success) {
    throw new Error(`chromium failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Width, height and decoded RGB(A) rows of an 8-bit non-interlaced PNG (what Chromium writes). */
async function decodePng(
  bytes: Uint8Array,
): Promise<{ width: number; height: number; px: number; data: Uint8Array }> {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  assert.deepEqual([...bytes.subarray(0, 8)], sig, "PNG signature");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 8, width = 0, height = 0, colorType = 0;
  const idat: Uint8Array[] = [];
  while (o + 8 <= bytes.length) {
    const len = dv.getUint32(o);
    const type = new TextDecoder().decode(bytes.subarray(o + 4, o + 8));
    const body = bytes.subarray(o + 8, o + 8 + len);
    if (type === "IHDR") {
      width = dv.getUint32(o + 8);
      height = dv.getUint32(o + 12);
      assert.equal(body[8], 8, "bit depth 8");
      colorType = body[9]!;
      assert.equal(body[12], 0, "not interlaced");
    } else if (type === "IDAT") idat.push(body);
    o += 12 + len;
  }
  const px = colorType === 6 ? 4 : colorType === 2 ? 3 : 0;
  assert.ok(px > 0, `colour type ${colorType}`);
  const z = new Blob(idat as BlobPart[]).stream().pipeThrough(new DecompressionStream("deflate"));
  const raw = new Uint8Array(await new Response(z).arrayBuffer());
  const stride = width * px;
  const data = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = data.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? data.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= px ? row[i - px]! : 0, b = up[i]!, c = i >= px ? up[i - px]! : 0;
      let pred = 0;
      if (filter === 1) pred = a;
      else if (filter === 2) pred = b;
      else if (filter === 3) pred = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      row[i] = (src[i]! + pred) & 255;
    }
  }
  return { width, height, px, data };
}

Deno.test({
  name:
    "the page renders a processed capture in headless Chromium: captures, charts, flows, IP details",
  ignore: chromium === undefined,
  async fn() {
    const fx = await tractorFixture({ listen: true });
    const profile = await Deno.makeTempDir({ prefix: "qts-tractor-chromium-" });
    try {
      await processFile(fx, "clients.pcap");
      const url = fx.tractor.url!;
      const dom = await runChromium(profile, ["--dump-dom"], url);
      for (
        const text of [
          "clients.pcap",
          "loopback.pcapng",
          "finished",
          CLIENTS.chicago,
          CLIENTS.moscow,
          CLIENTS.amsterdam,
          "http " + HTTP_HOST,
          "Chicago",
          USER_AGENT,
        ]
      ) {
        assert.ok(dom.includes(text), `rendered page shows ${text}`);
      }
      // Charts: one bar per label and per client, drawn as inline SVG.
      for (const label of ["http", "vk", "ssh"]) {
        assert.ok(dom.includes(`<g class="bar" data-label="${label}"`), `bar for ${label}`);
      }
      assert.ok(dom.includes(`<g class="bar" data-label="${CLIENTS.chicago}"`));
      assert.ok(dom.includes('class="chip on" data-label="http"'), "the top label is chosen");

      const png = join(profile, "page.png");
      await runChromium(profile, [`--screenshot=${png}`], url);
      const bytes = await Deno.readFile(png);
      const img = await decodePng(bytes);
      assert.equal(img.width, 1280);
      assert.equal(img.height, 900);
      // Not blank: many colours, and a good share of pixels differ from the background.
      const counts = new Map<number, number>();
      for (let i = 0; i < img.data.length; i += img.px) {
        const key = (img.data[i]! << 16) | (img.data[i + 1]! << 8) | img.data[i + 2]!;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      const pixels = img.width * img.height;
      const background = Math.max(...counts.values());
      assert.ok(counts.size > 50, `${counts.size} colours`);
      assert.ok(pixels - background > pixels * 0.1, `${pixels - background} non-background pixels`);
      // The chart's first bar colour (#2f6fde) is on screen.
      assert.ok((counts.get(0x2f6fde) ?? 0) > 500, "bar colour present");
    } finally {
      await fx.close();
      await Deno.remove(profile, { recursive: true });
    }
  },
});
