/**
 * Headless Chromium for the page tests: where it is, a one-shot run (DOM dump or screenshot), a
 * DevTools session to click and read a live page, and a PNG decoder to check a screenshot is not
 * blank.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { waitFor } from "./sensor_process.ts";

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

/** A minimal Chrome DevTools Protocol client over one page target's WebSocket. */
export class DevTools {
  #id = 0;
  readonly #pending = new Map<
    number,
    { resolve(v: Record<string, unknown>): void; reject(e: Error): void }
  >();
  private constructor(readonly socket: WebSocket) {
    socket.onmessage = (event) => {
      const message = JSON.parse(String(event.data));
      const waiter = this.#pending.get(message.id);
      if (!waiter) return;
      this.#pending.delete(message.id);
      if (message.error) waiter.reject(new Error(JSON.stringify(message.error)));
      else waiter.resolve(message.result);
    };
  }

  static async open(url: string): Promise<DevTools> {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
    return new DevTools(socket);
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = ++this.#id;
    const { promise, resolve, reject } = Promise.withResolvers<Record<string, unknown>>();
    this.#pending.set(id, { resolve, reject });
    this.socket.send(JSON.stringify({ id, method, params }));
    const timer = setTimeout(() => {
      if (this.#pending.delete(id)) reject(new Error(`${method}: no answer within 30 s`));
    }, 30_000);
    return promise.finally(() => clearTimeout(timer));
  }

  /** Evaluates an expression in the page and returns its value. */
  async eval<T>(expression: string): Promise<T> {
    const result = await this.send("Runtime.evaluate", { expression, returnByValue: true });
    if (result.exceptionDetails) throw new Error(JSON.stringify(result.exceptionDetails));
    return (result.result as { value: T }).value;
  }

  async close(): Promise<void> {
    const closed = new Promise((resolve) => this.socket.onclose = resolve);
    this.socket.close();
    await closed;
  }
}

/**
 * Starts headless Chromium with remote debugging and a fresh `profile` dir (window and viewport
 * 1400×1000 unless given); resolves with its DevTools page socket, for tests that click and read
 * the page.
 */
export async function startDevTools(
  chromium: string,
  profile: string,
  options: RunChromiumOptions = {},
): Promise<{ page: DevTools; stop(): Promise<void> }> {
  const child = new Deno.Command(chromium, {
    args: [
      ...HEADLESS_FLAGS,
      "--hide-scrollbars",
      `--user-data-dir=${profile}`,
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      `--window-size=${options.width ?? 1400},${options.height ?? 1000}`,
      "about:blank",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const listening = Promise.withResolvers<string>();
  const stderr: string[] = [];
  const reader = (async () => {
    let buffer = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(buffer);
      if (match) listening.resolve(match[1]!);
      if (stderr.length < 200) stderr.push(chunk);
    }
    listening.reject(new Error(`chromium exited: ${stderr.join("")}`));
  })();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
    await reader;
  };
  try {
    const timer = setTimeout(() => listening.reject(new Error("chromium did not start")), 30_000);
    const browser = await listening.promise.finally(() => clearTimeout(timer));
    const port = new URL(browser).port;
    const targets = await waitFor("chromium's page target", async () => {
      const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
      return (list as { type: string; webSocketDebuggerUrl: string }[]).find((t) =>
        t.type === "page"
      );
    });
    const page = await DevTools.open(targets.webSocketDebuggerUrl);
    // The viewport is exactly the window size (layout assertions depend on it).
    await page.send("Emulation.setDeviceMetricsOverride", {
      width: options.width ?? 1400,
      height: options.height ?? 1000,
      deviceScaleFactor: 1,
      mobile: false,
    });
    return {
      page,
      async stop() {
        await page.close();
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
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
