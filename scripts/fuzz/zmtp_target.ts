/**
 * Fuzz target: ZMTP framing. Each input is the byte stream a peer sends (greeting, READY,
 * messages, commands), mutated, fed to the real `Connection` of a real `PullSocket` through an
 * in-memory `Deno.Conn` in chunks, then EOF. Properties: no throw escapes; the connection ends
 * (peer EOF or a counted disconnect reason) without hanging; every delivered message respects
 * `maxFrame`, `maxMessage` and `maxFrames`; what we write starts with our greeting; an
 * unmutated stream delivers exactly its messages. `finish()` then sends a sample of the inputs
 * over real loopback TCP to a bound PULL socket while a good PUSH peer keeps sending, and checks
 * that the good peer is served throughout and every hostile connection is released.
 * @module
 */

import { Connection, type ConnectionHost } from "../../src/sensor/zmtp/_connection.ts";
import { encodeGreeting, encodeReady } from "../../src/sensor/zmtp/_protocol.ts";
import { DISCONNECT_REASONS, PullSocket, PushSocket } from "../../src/sensor/zmtp/mod.ts";
import { concat, mutateBytes } from "./_mutate.ts";
import { MemoryConn } from "./_memory_conn.ts";
import type { Rng } from "./_random.ts";
import { type FuzzTarget, property, PropertyError } from "./_target.ts";

const MAX_FRAME = 1024;
const MAX_MESSAGE = 2048;
const MAX_FRAMES = 8;
/** Selector bits: which socket (hwm 1 or 1000), whether the stream is unmutated. */
const SMALL_HWM = 0x01;
const PRISTINE = 0x02;
const ascii = new TextEncoder();

function frame(flags: number, body: Uint8Array): Uint8Array {
  if (body.length > 255) {
    const out = new Uint8Array(9 + body.length);
    out[0] = flags | 0x02;
    new DataView(out.buffer).setBigUint64(1, BigInt(body.length));
    out.set(body, 9);
    return out;
  }
  const out = new Uint8Array(2 + body.length);
  out[0] = flags;
  out[1] = body.length;
  out.set(body, 2);
  return out;
}

function command(name: string, data: Uint8Array): Uint8Array {
  const n = ascii.encode(name);
  return frame(0x04, concat([Uint8Array.of(n.length), n, data]));
}

/** A well-formed peer stream and the messages it carries (frame sizes within the limits). */
function validStream(rng: Rng): { bytes: Uint8Array; messages: number[][] } {
  const greeting = encodeGreeting();
  if (rng.chance(0.2)) greeting[11] = 0; // a 3.0 peer
  const parts: Uint8Array[] = [greeting, encodeReady("PUSH")];
  const messages: number[][] = [];
  const count = rng.below(6);
  for (let m = 0; m < count; m++) {
    if (rng.chance(0.15)) {
      parts.push(
        rng.chance(0.5)
          ? command("PING", Uint8Array.of(0, 10, ...rng.bytes(rng.below(20))))
          : command(rng.pick(["PONG", "SUBSCRIBE", "X-UNKNOWN"]), rng.bytes(rng.below(8))),
      );
    }
    const frames = 1 + rng.below(3);
    const sizes: number[] = [];
    for (let f = 0; f < frames; f++) {
      const size = rng.chance(0.1) ? 256 + rng.below(400) : rng.below(40);
      sizes.push(size);
      parts.push(frame(f < frames - 1 ? 0x01 : 0, rng.bytes(size)));
    }
    messages.push(sizes);
  }
  return { bytes: concat(parts), messages };
}

interface Harness {
  pull: PullSocket;
  host: ConnectionHost;
  /** Messages taken from the socket for the current input. */
  received: Uint8Array[][];
}

/** A PullSocket's connection host, with messages drained on a microtask (so hwm can pause). */
function harness(hwm: number): Harness {
  const pull = new PullSocket({
    maxFrame: MAX_FRAME,
    maxMessage: MAX_MESSAGE,
    maxFrames: MAX_FRAMES,
    hwm,
    handshakeTimeout: 60_000,
  });
  const inner = (pull as unknown as { host: ConnectionHost }).host;
  const h: Harness = { pull, host: inner, received: [] };
  let draining = false;
  h.host = {
    ...inner,
    onMessage(c, frames) {
      inner.onMessage(c, frames);
      if (draining) return;
      draining = true;
      queueMicrotask(() => {
        draining = false;
        for (let m = pull.tryReceive(); m !== undefined; m = pull.tryReceive()) {
          h.received.push(m);
        }
      });
    },
  };
  return h;
}

function disconnectTotal(pull: PullSocket): number {
  let n = 0;
  for (const reason of DISCONNECT_REASONS) n += pull.stats.disconnected[reason];
  return n;
}

/** Options of {@linkcode zmtpTarget}. */
export interface ZmtpTargetOptions {
  /** Inputs replayed over loopback TCP in `finish()`; 0 skips that phase. Default 200. */
  loopbackInputs?: number;
}

/** The ZMTP framing target. */
export function zmtpTarget(options: ZmtpTargetOptions = {}): FuzzTarget {
  const harnesses = [harness(1000), harness(1)];
  const kinds: Record<string, number> = { mutated: 0, pristine: 0 };
  const greeting = encodeGreeting();
  const expected = new Map<Uint8Array, number[][]>();

  const target: FuzzTarget = {
    name: "zmtp",
    kinds,
    generate(rng) {
      const { bytes, messages } = validStream(rng);
      let selector = rng.chance(0.2) ? SMALL_HWM : 0;
      let stream = bytes;
      const mode = rng.below(20);
      if (mode === 0) selector |= PRISTINE;
      else if (mode === 1) stream = rng.bytes(rng.below(100));
      else stream = mutateBytes(bytes, rng, 3, rng.chance(0.9) ? 64 : 0);
      const input = concat([Uint8Array.of(selector), stream]);
      if (selector & PRISTINE) expected.set(input, messages);
      return input;
    },
    async check(input) {
      const selector = input[0]!;
      const h = harnesses[selector & SMALL_HWM ? 1 : 0]!;
      kinds[selector & PRISTINE ? "pristine" : "mutated"]!++;
      h.received = [];
      const conn = new MemoryConn(input.subarray(1));
      const before = disconnectTotal(h.pull);
      const c = new Connection(h.host, conn as unknown as Deno.Conn, "server");
      await c.done;
      // Messages still queued (the drain runs on a microtask).
      for (let m = h.pull.tryReceive(); m !== undefined; m = h.pull.tryReceive()) {
        h.received.push(m);
      }
      property(c.closed && conn.closed, "the connection did not end at EOF");
      property(
        disconnectTotal(h.pull) === before + 1,
        "the connection ended without exactly one counted reason",
      );
      property(c.inbox.length === 0, `${c.inbox.length} messages left in the inbox`);
      for (const message of h.received) {
        property(message.length >= 1 && message.length <= MAX_FRAMES, "frame count over limit");
        let total = 0;
        for (const f of message) {
          property(f.length <= MAX_FRAME, `a ${f.length}-byte frame was delivered`);
          total += f.length;
        }
        property(total <= MAX_MESSAGE, `a ${total}-byte message was delivered`);
      }
      const out = concat(conn.written);
      // A peer refused early may see only part of the greeting (partial writes), never other bytes.
      property(
        out.subarray(0, 64).every((b, i) => b === greeting[i]),
        "we did not start with our greeting",
      );
      const messages = expected.get(input);
      if (messages !== undefined) {
        expected.delete(input);
        const got = h.received.map((m) => m.map((f) => f.length));
        property(
          JSON.stringify(got) === JSON.stringify(messages),
          () => `valid stream: expected ${JSON.stringify(messages)}, got ${JSON.stringify(got)}`,
        );
        property(h.pull.stats.disconnected.peer_closed > 0, "valid stream not ended by EOF");
      }
    },
    async finish(rng) {
      const n = options.loopbackInputs ?? 200;
      if (n > 0) await loopback(n, rng, target);
    },
    async close() {
      for (const h of harnesses) await h.pull.close();
    },
  };
  return target;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let o = 0;
  while (o < bytes.length) o += await conn.write(bytes.subarray(o));
}

async function waitFor(what: string, ms: number, ok: () => boolean): Promise<void> {
  const end = performance.now() + ms;
  while (!ok()) {
    if (performance.now() > end) throw new PropertyError(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Hostile streams over real TCP to a bound PULL that keeps serving a good PUSH peer. */
async function loopback(count: number, rng: Rng, target: FuzzTarget): Promise<void> {
  const pull = new PullSocket({
    maxFrame: MAX_FRAME,
    maxMessage: MAX_MESSAGE,
    maxFrames: MAX_FRAMES,
    handshakeTimeout: 2_000,
  });
  const good = new PushSocket();
  try {
    const endpoint = await pull.bind("tcp://127.0.0.1:0");
    const port = Number(endpoint.slice(endpoint.lastIndexOf(":") + 1));
    good.connect(endpoint);
    let seq = 0;
    const roundTrip = async () => {
      const tag = ascii.encode(`good ${seq++}`);
      await good.send([tag]);
      for (;;) {
        const message = await Promise.race([
          pull.receive(),
          new Promise<"late">((resolve) => setTimeout(() => resolve("late"), 5_000)),
        ]);
        if (message === "late") throw new PropertyError(`the good peer was not served (${seq})`);
        property(message !== undefined, "the PULL socket closed");
        if (message.length === 1 && message[0]!.every((b, i) => b === tag[i])) return;
      }
    };
    await roundTrip();
    const batch = 8;
    for (let i = 0; i < count; i += batch) {
      await Promise.all(
        Array.from({ length: Math.min(batch, count - i) }, async () => {
          const input = target.generate(rng, i);
          const conn = await Deno.connect({ hostname: "127.0.0.1", port });
          try {
            await writeAll(conn, input.subarray(1));
          } catch {
            // The PULL may close a hostile peer before all its bytes are written.
          }
          try {
            conn.close();
          } catch {
            // Already closed.
          }
        }),
      );
      await roundTrip();
    }
    // Every hostile connection is released: only the good peer remains.
    const open = () => (pull as unknown as { connections: Set<unknown> }).connections.size;
    await waitFor("hostile connections to close", 10_000, () => open() === 1);
    property(
      pull.stats.accepted === count + 1,
      `accepted ${pull.stats.accepted}, sent ${count + 1}`,
    );
    property(disconnectTotal(pull) === count, `${disconnectTotal(pull)} disconnects for ${count}`);
  } finally {
    await good.close();
    await pull.close();
  }
}
