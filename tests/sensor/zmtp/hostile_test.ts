/**
 * Hostile and unusual peers: each is disconnected (or dropped for) and counted, and the socket
 * keeps serving its good peers.
 */
import assert from "node:assert/strict";
import { PubSocket, PullSocket, PushSocket, SubSocket } from "../../../src/sensor/zmtp/mod.ts";
import { pyzmqAvailable } from "../../_support/pyzmq_available.ts";
import { pyzmqPeer } from "../../_support/pyzmq_peer.ts";
import { b, eventLog, receiveN, seqOf, t } from "./_events.ts";
import {
  commandBytes,
  concat,
  frameBytes,
  greetingBytes,
  rawPeer,
  readyBytes,
} from "./_raw_peer.ts";

const skip = pyzmqAvailable();
if (skip) console.warn(`zmtp tests with libzmq skipped: ${skip}`);

/** A bound PULL with a good qts PUSH peer, to show that others are unaffected. */
async function pullWithGoodPeer(options = {}) {
  const events = eventLog();
  const pull = new PullSocket({ logger: events.logger, ...options });
  const endpoint = await pull.bind("tcp://127.0.0.1:0");
  const good = new PushSocket();
  good.connect(endpoint);
  await good.send([b("good"), b("1")]);
  assert.deepEqual((await receiveN(pull, 1))[0]!.map(t), ["good", "1"]);
  return { pull, endpoint, events, good };
}

async function stillServes(pull: PullSocket, good: PushSocket): Promise<void> {
  await good.send([b("good"), b("2")]);
  assert.deepEqual((await receiveN(pull, 1))[0]!.map(t), ["good", "2"]);
}

const hostile: [string, string, Uint8Array][] = [
  ["an HTTP request", "bad_greeting", b("GET / HTTP/1.1\r\nHost: x\r\n\r\n")],
  ["a ZMTP 2.0 greeting", "bad_greeting", greetingBytes(1, 0)],
  [
    "a bad signature end",
    "bad_greeting",
    concat(new Uint8Array([0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0])),
  ],
  ["the PLAIN mechanism", "bad_mechanism", greetingBytes(3, 1, "PLAIN")],
  ["the CURVE mechanism", "bad_mechanism", greetingBytes(3, 0, "CURVE")],
  ["a message before READY", "protocol_error", concat(greetingBytes(), frameBytes(0, b("hi")))],
  [
    "a command other than READY first",
    "protocol_error",
    concat(greetingBytes(), commandBytes("PING", new Uint8Array(2))),
  ],
  [
    "a READY with a truncated property",
    "protocol_error",
    concat(greetingBytes(), commandBytes("READY", new Uint8Array([11, 0x53]))),
  ],
  [
    "reserved flag bits",
    "protocol_error",
    concat(greetingBytes(), readyBytes("PUSH"), new Uint8Array([0x80, 1, 0])),
  ],
  [
    "a command with MORE",
    "protocol_error",
    concat(greetingBytes(), readyBytes("PUSH"), new Uint8Array([0x05, 1, 0])),
  ],
  [
    "a 2^63 frame length",
    "frame_too_large",
    concat(
      greetingBytes(),
      readyBytes("PUSH"),
      new Uint8Array([2, 0x7f, 255, 255, 255, 255, 255, 255, 255]),
    ),
  ],
  ["a PUB socket type", "incompatible_socket", concat(greetingBytes(), readyBytes("PUB"))],
  ["no socket type", "incompatible_socket", concat(greetingBytes(), commandBytes("READY"))],
  ["an ERROR command", "peer_error", concat(greetingBytes(), commandBytes("ERROR", b("\x03bye")))],
];

for (const [what, reason, bytes] of hostile) {
  Deno.test(`PullSocket disconnects a peer sending ${what} (${reason})`, async () => {
    const { pull, endpoint, events, good } = await pullWithGoodPeer({ maxFrame: 1024 * 1024 });
    try {
      const raw = await rawPeer(endpoint);
      // The socket may hang up before all bytes are written; that is the point.
      await raw.write(bytes).catch(() => {});
      await raw.closedByPeer();
      await events.waitFor("disconnect", (f) => f.reason === reason);
      assert.equal(pull.stats.disconnected[reason as "bad_greeting"], 1);
      await stillServes(pull, good);
    } finally {
      await good.close();
      await pull.close();
    }
  });
}

Deno.test("PullSocket answers an incompatible socket type with ERROR, not READY", async () => {
  const pull = new PullSocket();
  const endpoint = await pull.bind("tcp://127.0.0.1:0");
  const raw = await rawPeer(endpoint);
  try {
    await raw.write(concat(greetingBytes(), readyBytes("SUB")));
    const greeting = await raw.read(64);
    assert.equal(greeting[0], 0xff);
    // As the server of the NULL handshake we never send READY to an incompatible client.
    const error = await raw.read(2);
    assert.deepEqual([...error], [4, error[1]]);
    const body = await raw.read(error[1]!);
    assert.equal(t(body.subarray(1, 6)), "ERROR");
    assert.match(t(body.subarray(7)), /SUB cannot talk to PULL/);
    await raw.closedByPeer();
  } finally {
    raw.close();
    await pull.close();
  }
});

Deno.test("PullSocket drops a peer that never finishes the handshake", async () => {
  const { pull, endpoint, events, good } = await pullWithGoodPeer({ handshakeTimeout: 50 });
  try {
    const raw = await rawPeer(endpoint);
    await raw.write(greetingBytes().subarray(0, 20));
    await raw.closedByPeer();
    await events.waitFor("disconnect", (f) => f.reason === "handshake_timeout");
    await stillServes(pull, good);
  } finally {
    await good.close();
    await pull.close();
  }
});

Deno.test("PullSocket drops a silent peer when heartbeats time out", async () => {
  const events = eventLog();
  const pull = new PullSocket({
    logger: events.logger,
    heartbeatInterval: 10,
    heartbeatTimeout: 50,
  });
  const endpoint = await pull.bind("tcp://127.0.0.1:0");
  const raw = await rawPeer(endpoint);
  try {
    await raw.write(concat(greetingBytes(), readyBytes("PUSH")));
    await raw.closedByPeer();
    await events.waitFor("disconnect", (f) => f.reason === "heartbeat_timeout");
  } finally {
    raw.close();
    await pull.close();
  }
});

Deno.test("PullSocket answers PING with PONG echoing the context", async () => {
  const pull = new PullSocket();
  const endpoint = await pull.bind("tcp://127.0.0.1:0");
  const raw = await rawPeer(endpoint);
  try {
    await raw.write(
      concat(greetingBytes(), readyBytes("PUSH"), commandBytes("PING", b("\x00\x05ctx-1"))),
    );
    await raw.read(64 + 28);
    const pong = await raw.read(2 + 5 + 5);
    assert.deepEqual([...pong.subarray(0, 2)], [4, 10]);
    assert.equal(t(pong.subarray(2)), "\x04PONGctx-1");
  } finally {
    raw.close();
    await pull.close();
  }
});

Deno.test("PullSocket accepts a ZMTP 3.0 peer and frames split across reads", async () => {
  const pull = new PullSocket();
  const endpoint = await pull.bind("tcp://127.0.0.1:0");
  const raw = await rawPeer(endpoint);
  try {
    const bytes = concat(
      greetingBytes(3, 0),
      readyBytes("PUSH"),
      frameBytes(1, b("head")),
      frameBytes(1, new Uint8Array(0)),
      frameBytes(0, new Uint8Array(300).fill(7)),
    );
    // One byte at a time: every partial-header and partial-body path.
    for (let i = 0; i < bytes.length; i++) await raw.write(bytes.subarray(i, i + 1));
    const [m] = await receiveN(pull, 1);
    assert.equal(m!.length, 3);
    assert.equal(t(m![0]!), "head");
    assert.equal(m![1]!.length, 0);
    assert.deepEqual(m![2], new Uint8Array(300).fill(7));
  } finally {
    raw.close();
    await pull.close();
  }
});

Deno.test("SubSocket subscribes a ZMTP 3.0 PUB with a \\x01 data frame", async () => {
  const sub = new SubSocket();
  sub.subscribe("A");
  const endpoint = await sub.bind("tcp://127.0.0.1:0");
  const raw = await rawPeer(endpoint);
  try {
    await raw.write(concat(greetingBytes(3, 0), readyBytes("PUB")));
    await raw.read(64 + 27);
    assert.deepEqual([...(await raw.read(4))], [0, 2, 1, 0x41]);
    await raw.write(concat(frameBytes(0, b("B1")), frameBytes(0, b("A1"))));
    assert.equal(t((await receiveN(sub, 1))[0]![0]!), "A1");
    sub.unsubscribe("A");
    assert.deepEqual([...(await raw.read(4))], [0, 2, 0, 0x41]);
  } finally {
    raw.close();
    await sub.close();
  }
});

Deno.test("SubSocket subscribes a ZMTP 3.1 PUB with SUBSCRIBE and CANCEL commands", async () => {
  const sub = new SubSocket();
  sub.subscribe("A");
  const endpoint = await sub.bind("tcp://127.0.0.1:0");
  const raw = await rawPeer(endpoint);
  try {
    await raw.write(concat(greetingBytes(3, 1), readyBytes("PUB")));
    await raw.read(64 + 27);
    assert.deepEqual(await raw.read(13), commandBytes("SUBSCRIBE", b("A")));
    sub.unsubscribe("A");
    assert.deepEqual(await raw.read(10), commandBytes("CANCEL", b("A")));
  } finally {
    raw.close();
    await sub.close();
  }
});

Deno.test("PubSocket takes subscriptions from a ZMTP 3.0 SUB as data frames", async () => {
  const events = eventLog();
  const pub = new PubSocket({ logger: events.logger });
  const endpoint = await pub.bind("tcp://127.0.0.1:0");
  const raw = await rawPeer(endpoint);
  try {
    await raw.write(concat(greetingBytes(3, 0), readyBytes("SUB"), frameBytes(0, b("\x01A"))));
    await raw.read(64 + 27);
    await events.waitFor("subscribe");
    assert.equal(pub.send([b("B")]), 0);
    assert.equal(pub.send([b("A1"), b("x")]), 1);
    assert.deepEqual(await raw.read(7), concat(frameBytes(1, b("A1")), frameBytes(0, b("x"))));
    await raw.write(frameBytes(0, b("\x00A")));
    await events.waitFor("cancel");
    assert.equal(pub.send([b("A2")]), 0);
  } finally {
    raw.close();
    await pub.close();
  }
});

Deno.test("PubSocket drops for a slow subscriber and keeps serving a fast one", async () => {
  const events = eventLog();
  const pub = new PubSocket({ logger: events.logger, hwm: 20 });
  const endpoint = await pub.bind("tcp://127.0.0.1:0");
  const fast = new SubSocket();
  fast.subscribe("");
  fast.connect(endpoint);
  // The slow subscriber subscribes and then never reads.
  const slow = await rawPeer(endpoint);
  try {
    await slow.write(concat(greetingBytes(), readyBytes("SUB"), commandBytes("SUBSCRIBE")));
    await events.waitFor("subscribe", undefined, 2);
    const body = new Uint8Array(64 * 1024);
    const count = 1000; // 64 MiB: far more than the slow peer's socket buffers hold
    for (let i = 0; i < count; i++) {
      new DataView(body.buffer).setUint32(0, i);
      pub.send([b("x"), body.slice()]);
      // Lock-step with the fast subscriber, so only the slow one ever falls behind.
      const [m] = await receiveN(fast, 1);
      assert.equal(seqOf(m!), i);
    }
    assert.ok(pub.stats.droppedHwm > 0, "the slow subscriber should have missed messages");
    assert.ok(pub.stats.droppedHwm < count);
  } finally {
    slow.close();
    await fast.close();
    await pub.close();
  }
});

Deno.test({
  name:
    "PullSocket drops a libzmq PUB (incompatible) and skips a libzmq PUSH's frame over maxFrame",
  ignore: !!skip,
  async fn() {
    const { pull, endpoint, events, good } = await pullWithGoodPeer({ maxFrame: 1000 });
    const pub = await pyzmqPeer({ type: "PUB", mode: "connect", endpoint });
    const big = await pyzmqPeer({ type: "PUSH", mode: "connect", endpoint });
    try {
      await events.waitFor("disconnect", (f) => f.reason === "incompatible_socket");
      await big.send([b("x"), new Uint8Array(1001)]);
      await big.send([b("after")]);
      assert.deepEqual((await receiveN(pull, 1))[0]!.map(t), ["after"]);
      assert.equal(pull.stats.oversized, 1);
      assert.equal(pull.stats.disconnected.frame_too_large, 0);
      await stillServes(pull, good);
    } finally {
      await pub.kill();
      await big.kill();
      await good.close();
      await pull.close();
    }
  },
});
