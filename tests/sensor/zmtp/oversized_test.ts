/**
 * Messages over maxFrame / maxMessage / maxFrames are skipped as they stream, counted in
 * `stats.oversized`, and the connection and the messages around them survive (issue 17 item 2).
 */
import assert from "node:assert/strict";
import { curveKeyPair, PullSocket, type ZmtpOptions } from "../../../src/sensor/zmtp/mod.ts";
import { pyzmqAvailable } from "../../_support/pyzmq_available.ts";
import { pyzmqPeer } from "../../_support/pyzmq_peer.ts";
import { b, eventLog, receiveN, t } from "./_events.ts";
import { concat, frameBytes, greetingBytes, rawPeer, readyBytes } from "./_raw_peer.ts";

const skip = pyzmqAvailable();
if (skip) console.warn(`zmtp oversized tests with libzmq skipped: ${skip}`);

Deno.test("PullSocket skips a frame over maxFrame as it streams and keeps the connection", async () => {
  const events = eventLog();
  const pull = new PullSocket({ maxFrame: 1000, logger: events.logger });
  const endpoint = await pull.bind("tcp://127.0.0.1:0");
  const raw = await rawPeer(endpoint);
  try {
    await raw.write(concat(greetingBytes(), readyBytes("PUSH"), frameBytes(0, b("one"))));
    assert.deepEqual((await receiveN(pull, 1))[0]!.map(t), ["one"]);
    // A 3 MiB frame in the middle of a message, sent in 64 KiB pieces; the first frame of
    // its message and the one after it go too.
    const big = frameBytes(1, new Uint8Array(3 * 1024 * 1024).fill(9));
    await raw.write(frameBytes(1, b("head")));
    for (let i = 0; i < big.length; i += 65536) await raw.write(big.subarray(i, i + 65536));
    await raw.write(
      concat(frameBytes(0, b("tail")), frameBytes(1, b("two")), frameBytes(0, b("!"))),
    );
    assert.deepEqual((await receiveN(pull, 1))[0]!.map(t), ["two", "!"]);
    assert.equal(pull.stats.oversized, 1);
    assert.equal(events.count("oversized", (f) => f.limit === "maxFrame"), 1);
    assert.equal(events.count("disconnect"), 0);
  } finally {
    raw.close();
    await pull.close();
  }
});

Deno.test("PullSocket drops a message over maxMessage or maxFrames and gets the next", async () => {
  const pull = new PullSocket({ maxFrame: 1000, maxMessage: 2500, maxFrames: 3 });
  const endpoint = await pull.bind("tcp://127.0.0.1:0");
  const raw = await rawPeer(endpoint);
  try {
    const k = new Uint8Array(1000);
    await raw.write(concat(
      greetingBytes(),
      readyBytes("PUSH"),
      frameBytes(1, k),
      frameBytes(1, k),
      frameBytes(0, k), // 3000 bytes > maxMessage
      frameBytes(0, b("a")),
      frameBytes(1, b("1")),
      frameBytes(1, b("2")),
      frameBytes(1, b("3")),
      frameBytes(0, b("4")), // 4 frames > maxFrames
      frameBytes(1, b("b")),
      frameBytes(0, k),
    ));
    const got = await receiveN(pull, 2);
    assert.deepEqual(got.map((m) => m.map((f) => f.length)), [[1], [1, 1000]]);
    assert.equal(t(got[0]![0]!), "a");
    assert.equal(pull.stats.oversized, 2);
  } finally {
    raw.close();
    await pull.close();
  }
});

/** valid, oversized, valid…: the oversized frame sits first, in the middle or last. */
function mixed(count: number, limit: number): { messages: Uint8Array[][]; valid: string[] } {
  const messages: Uint8Array[][] = [];
  const valid: string[] = [];
  for (let i = 0; i < count; i++) {
    if (i % 3 !== 1) {
      messages.push([b(`http:${i}:`), b(`record ${i}`)]);
      valid.push(`http:${i}:`);
      continue;
    }
    // Mostly just over the limit, now and then 1 MiB, so skipping spans many reads.
    const size = i % 30 === 1 ? 1024 * 1024 : limit + 1 + (i % 7) * 100;
    const big = new Uint8Array(size).fill(i & 0xff);
    const where = (i / 3) % 3;
    messages.push(
      where === 0 ? [big, b("x")] : where === 1 ? [b("x"), big, b("y")] : [b("x"), big],
    );
  }
  return { messages, valid };
}

async function throughLibzmq(
  options: ZmtpOptions,
  curve?: { server: string; client: ReturnType<typeof curveKeyPair> },
) {
  const limit = 1000;
  const pull = new PullSocket({ maxFrame: limit, ...options });
  const endpoint = await pull.bind("tcp://127.0.0.1:0");
  const peer = await pyzmqPeer({
    type: "PUSH",
    mode: "connect",
    endpoint,
    ...(curve ? { curve: { ...curve.client, serverKey: curve.server } } : {}),
  });
  try {
    const { messages, valid } = mixed(90, limit);
    await peer.sendMany(messages);
    const got = await receiveN(pull, valid.length);
    assert.deepEqual(got.map((m) => t(m[0]!)), valid, "every valid record, in order");
    assert.equal(pull.stats.oversized, messages.length - valid.length);
    assert.equal(pull.stats.handshakes, 1);
    const disconnects = Object.values(pull.stats.disconnected).reduce((n, v) => n + v, 0);
    assert.equal(disconnects, 0);
  } finally {
    await peer.close();
    await pull.close();
  }
}

Deno.test({
  name: "PullSocket loses no valid record around libzmq PUSH's oversized frames (NULL)",
  ignore: !!skip,
  fn: () => throughLibzmq({}),
});

Deno.test({
  name: "PullSocket loses no valid record around libzmq PUSH's oversized frames (CURVE)",
  ignore: !!skip,
  async fn() {
    const server = curveKeyPair();
    const client = curveKeyPair();
    await throughLibzmq(
      { curve: { ...server, authorizedKeys: [client.publicKey] } },
      { server: server.publicKey, client },
    );
  },
});
