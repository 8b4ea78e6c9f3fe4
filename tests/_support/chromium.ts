/**
 * Headless Chromium for the page tests: where it is, a one-shot run (DOM dump or screenshot), and
 * a PNG decoder to check a screenshot is not blank.
 */
import assert from "node:assert/strict";
import { join } from "node:path";

/** The Chromium binary (/usr/bin first, then PATH), or undefined when none is installed. */
export function findChromium(): string | undefined {
  for (const dir of ["/usr/bin", ...(Deno.env.get("PATH") ?? "").split(":")]) {
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

/** Flags every headless run takes: no sandbox, GPU, QUIC, first-run or background traffic. */
export const HEADLESS_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Options of {@linkcode runChromium}. */
export interface RunChromiumOptions {
  /** Window size; default 1280×900. */
  width?: number;
  height?: number;
}

/**
 * Opens `url` once in headless Chromium with a fresh `profile` dir and `extra` flags
 * (`--dump-dom`, `--screenshot=…`); returns its stdout. Virtual time lets the page's fetches and
 * rendering finish before the dump or screenshot, with no wall-clock wait in the test.
 */
export async function runChromium(
  chromium: string,
  profile: string,
  extra: string[],
  url: string,
  options: RunChromiumOptions = {},
): Promise<string> {
  const out = await new Deno.Command(chromium, {
    args: [
      ...HEADLESS_FLAGS,
      `--user-data-dir=${profile}`,
      `--window-size=${options.width ?? 1280},${options.height ?? 900}`,
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

/** A decoded 8-bit PNG: size, bytes per pixel and the RGB(A) rows. */
export interface DecodedPng {
  width: number;
  height: number;
  px: number;
  data: Uint8Array;
}

/** Width, height and decoded RGB(A) rows of an 8-bit non-interlaced PNG (what Chromium writes). */
export async function decodePng(bytes: Uint8Array): Promise<DecodedPng> {
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

/** Pixel count per RGB colour of a decoded PNG. */
export function colourCounts(img: DecodedPng): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < img.data.length; i += img.px) {
    const key = (img.data[i]! << 16) | (img.data[i + 1]! << 8) | img.data[i + 2]!;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}
