/**
 * `deno task bench zmtp`: receive throughput of our PULL socket fed by libzmq, against
 * libzmq-to-libzmq (pyzmq PULL) on the same machine as the baseline.
 *
 * Both runs are set up the same way: a libzmq PUSH (Debian python3-zmq) connects to a port
 * nobody listens on yet and queues N two-frame messages (10-byte header + 690-byte body = the
 * sensor's 700-byte records) in memory; then the receiver binds, libzmq flushes as fast as it
 * can, and the receiver's clock runs from its first message to its last. So the figure is the
 * receiver's speed, not Python's send loop.
 *
 * The CURVE figure runs qts PUSH → qts PULL over loopback with CurveZMQ on both ends, so it
 * counts our encryption and our decryption: CURVE_COUNT messages of 10 + 500 bytes.
 * @module
 */

import { curveKeyPair, PullSocket, PushSocket } from "../../src/sensor/zmtp/mod.ts";
import { type PyzmqPeer, pyzmqPeer } from "../../tests/_support/pyzmq_peer.ts";
import { pyzmqAvailable } from "../../tests/_support/pyzmq_available.ts";
import { freePort } from "./_measure.ts";

const COUNT = 200_000;
const HEADER = new TextEncoder().encode("http:8984:");
const BODY = 690;
const RUNS = 5;
const CURVE_COUNT = 100_000;
const CURVE_BODY = 500;

interface Figure {
  seconds: number;
  count: number;
  bytes: number;
}

/** A libzmq PUSH with COUNT messages queued for an endpoint that is not bound yet. */
async function queuedSender(endpoint: string): Promise<PyzmqPeer> {
  const peer = await pyzmqPeer({
    type: "PUSH",
    mode: "connect",
    endpoint,
    socketOptions: { sndhwm: 0, linger: 0 },
    timeout: 120_000,
  });
  await peer.generate(COUNT, HEADER, BODY);
  return peer;
}

async function qtsPull(): Promise<Figure> {
  const endpoint = `tcp://127.0.0.1:${freePort()}`;
  const sender = await queuedSender(endpoint);
  const pull = new PullSocket({ hwm: 10_000 });
  try {
    await pull.bind(endpoint);
    let count = 0;
    let bytes = 0;
    let start = 0;
    for await (const frames of pull) {
      if (count === 0) start = performance.now();
      for (const frame of frames) bytes += frame.length;
      if (++count === COUNT) break;
    }
    return { seconds: (performance.now() - start) / 1000, count, bytes };
  } finally {
    await pull.close();
    await sender.close();
  }
}

async function pyzmqPull(): Promise<Figure> {
  const endpoint = `tcp://127.0.0.1:${freePort()}`;
  const sender = await queuedSender(endpoint);
  const receiver = await pyzmqPeer({ type: "PULL", mode: "bind", endpoint, timeout: 120_000 });
  try {
    const result = await receiver.receiveCount(COUNT, 120_000);
    return { seconds: result.seconds, count: result.count, bytes: result.bytes };
  } finally {
    await receiver.close();
    await sender.close();
  }
}

async function qtsToQts(curve = false): Promise<Figure> {
  const count = curve ? CURVE_COUNT : COUNT;
  const server = curveKeyPair();
  const client = curveKeyPair();
  const pull = new PullSocket({
    hwm: 10_000,
    ...(curve ? { curve: { ...server, authorizedKeys: [client.publicKey] } } : {}),
  });
  const push = new PushSocket({
    hwm: 10_000,
    ...(curve ? { curve: { ...client, serverKey: server.publicKey } } : {}),
  });
  try {
    const endpoint = await pull.bind("tcp://127.0.0.1:0");
    push.connect(endpoint);
    const body = new Uint8Array(curve ? CURVE_BODY : BODY);
    const sending = (async () => {
      for (let i = 0; i < count; i++) {
        if (!push.trySend([HEADER, body])) await push.send([HEADER, body]);
      }
    })();
    let received = 0;
    let bytes = 0;
    let start = 0;
    for await (const frames of pull) {
      if (received === 0) start = performance.now();
      for (const frame of frames) bytes += frame.length;
      if (++received === count) break;
    }
    await sending;
    return { seconds: (performance.now() - start) / 1000, count: received, bytes };
  } finally {
    await push.close();
    await pull.close();
  }
}

function median(figures: Figure[]): Figure {
  return [...figures].sort((a, b) => a.seconds - b.seconds)[Math.floor(figures.length / 2)]!;
}

function rate(f: Figure): { msgs: number; mb: number } {
  return { msgs: f.count / f.seconds, mb: f.bytes / f.seconds / 1e6 };
}

function line(name: string, figures: Figure[]): string {
  const r = rate(median(figures));
  const all = figures.map((f) => rate(f).msgs);
  const k = (n: number) => `${Math.round(n / 1000)}k`;
  return `${name.padEnd(34)} ${Math.round(r.msgs).toLocaleString("en-US").padStart(11)} msg/s ${
    r.mb.toFixed(1).padStart(8)
  } MB/s  (runs ${k(Math.min(...all))}-${k(Math.max(...all))} msg/s)`;
}

/**
 * Prints msg/s and MB/s for libzmq→qts PULL, libzmq→pyzmq PULL (baseline), qts→qts, and
 * qts→qts with CURVE.
 */
export async function run(): Promise<void> {
  const skip = pyzmqAvailable();
  if (skip) {
    console.log(`zmtp bench skipped: ${skip}`);
    return;
  }
  console.log(
    `${COUNT} messages of 2 frames (${HEADER.length} + ${BODY} bytes), median of ${RUNS} runs`,
  );
  const qts: Figure[] = [];
  const py: Figure[] = [];
  const local: Figure[] = [];
  const curve: Figure[] = [];
  for (let i = 0; i < RUNS; i++) {
    qts.push(await qtsPull());
    py.push(await pyzmqPull());
    local.push(await qtsToQts());
    curve.push(await qtsToQts(true));
  }
  const q = median(qts);
  const p = median(py);
  console.log(line("libzmq PUSH -> qts PULL", qts));
  console.log(line("libzmq PUSH -> pyzmq PULL (base)", py));
  console.log(line("qts PUSH -> qts PULL", local));
  console.log(
    `CURVE: ${CURVE_COUNT} messages of 2 frames (${HEADER.length} + ${CURVE_BODY} bytes)`,
  );
  console.log(line("qts PUSH -> qts PULL (CURVE)", curve));
  console.log(`ratio qts PULL / pyzmq PULL: ${(rate(q).msgs / rate(p).msgs).toFixed(2)}x`);
}

if (import.meta.main) await run();
