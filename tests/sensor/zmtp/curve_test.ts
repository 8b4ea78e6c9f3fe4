/**
 * CURVE (26/CurveZMQ, 25/ZMTP-CURVE): Z85 keys, and our sockets against libzmq's CURVE
 * (Debian python3-zmq) in both roles, plus refusals of unknown clients and wrong server keys.
 */
import assert from "node:assert/strict";
import nacl from "tweetnacl";
import { CurveMessageBox } from "../../../src/sensor/zmtp/_curve_message_box.ts";
import {
  curveKeyPair,
  decodeZ85,
  encodeZ85,
  PubSocket,
  PullSocket,
  PushSocket,
  SubSocket,
} from "../../../src/sensor/zmtp/mod.ts";
import { pyzmqAvailable } from "../../_support/pyzmq_available.ts";
import { libzmqKeyPair, pyzmqPeer } from "../../_support/pyzmq_peer.ts";
import { b, eventLog, receiveN, seqOf, t } from "./_events.ts";

const skip = pyzmqAvailable();
if (skip) console.warn(`zmtp CURVE interop tests skipped: ${skip}`);
const test = (name: string, fn: () => Promise<void>) => Deno.test({ name, ignore: !!skip, fn });

Deno.test("encodeZ85() and decodeZ85() match the 32/Z85 test vector and round-trip", () => {
  const bytes = new Uint8Array([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
  assert.equal(encodeZ85(bytes), "HelloWorld");
  assert.deepEqual(decodeZ85("HelloWorld"), bytes);
  const random = crypto.getRandomValues(new Uint8Array(32));
  assert.deepEqual(decodeZ85(encodeZ85(random)), random);
  assert.throws(() => decodeZ85("Hello World"), SyntaxError);
  assert.throws(() => decodeZ85("abcd"), SyntaxError);
  assert.throws(() => encodeZ85(new Uint8Array(3)), RangeError);
});

Deno.test("CurveMessageBox seals and opens byte for byte as tweetnacl's box and secretbox", () => {
  const prefixes = ["CurveZMQMESSAGEC", "CurveZMQMESSAGES"].map(b);
  const lengths = [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 500, 501, 1000, 4097];
  for (let i = 0; i < 300; i++) lengths.push(Math.floor(Math.random() * 2000));
  for (const [i, length] of lengths.entries()) {
    const a = nacl.box.keyPair();
    const z = nacl.box.keyPair();
    const key = nacl.box.before(z.publicKey, a.secretKey);
    const prefix = prefixes[i % 2]!;
    const box = new CurveMessageBox(key, prefix);
    const plain = crypto.getRandomValues(new Uint8Array(length));
    const tail = crypto.getRandomValues(new Uint8Array(8));
    const nonce = new Uint8Array(24);
    nonce.set(prefix);
    nonce.set(tail, 16);
    const expected = nacl.box(plain, nonce, z.publicKey, a.secretKey);
    assert.deepEqual(nacl.secretbox(plain, nonce, key), expected);
    const wire = new Uint8Array(3 + 24 + length);
    wire.set(tail, 3);
    wire.set(plain, 27);
    box.seal(wire, 3);
    assert.deepEqual(wire.subarray(11), expected, `seal(), ${length} bytes`);
    assert.deepEqual(wire.subarray(0, 3), new Uint8Array(3), "seal() stays in its box");
    const opened = box.open(wire.subarray(3));
    assert.deepEqual(opened, plain, `open(), ${length} bytes`);
    if (length > 0) {
      assert.equal(box.peek(wire.subarray(3, 28)), plain[0]);
      wire[3 + 24 + (i % length)]! ^= 0x40;
      assert.equal(box.open(wire.subarray(3)), undefined, "a flipped cipher bit");
      wire[3 + 24 + (i % length)]! ^= 0x40;
    }
    wire[3 + 8 + (i % 16)]! ^= 1;
    assert.equal(box.open(wire.subarray(3)), undefined, "a flipped MAC bit");
  }
  assert.throws(() => new CurveMessageBox(new Uint8Array(31), prefixes[0]!), RangeError);
});

Deno.test("PullSocket rejects CURVE keys that do not fit, and a server without authorizedKeys", () => {
  const a = curveKeyPair();
  const other = curveKeyPair();
  assert.throws(
    () => new PullSocket({ curve: { ...a, publicKey: other.publicKey, authorizedKeys: [] } }),
    /publicKey does not belong to secretKey/,
  );
  assert.throws(() => new PullSocket({ curve: a }), /without authorizedKeys/);
  assert.throws(
    () => new PullSocket({ curve: { ...a, authorizedKeys: ["short"] } }),
    /authorizedKeys/,
  );
});

Deno.test("PushSocket (CURVE client) feeds a PullSocket (CURVE server); wrong keys are refused", async () => {
  const events = eventLog();
  const server = curveKeyPair();
  const client = curveKeyPair();
  const stranger = curveKeyPair();
  const pull = new PullSocket({
    curve: { ...server, authorizedKeys: [client.publicKey] },
    logger: events.logger,
  });
  const endpoint = await pull.bind("tcp://127.0.0.1:0");
  const good = new PushSocket({ curve: { ...client, serverKey: server.publicKey } });
  const unknown = new PushSocket({ curve: { ...stranger, serverKey: server.publicKey } });
  const wrongServer = new PushSocket({ curve: { ...client, serverKey: stranger.publicKey } });
  const plain = new PushSocket();
  try {
    for (const s of [unknown, wrongServer, plain]) s.connect(endpoint);
    await events.waitFor("disconnect", (f) => f.reason === "auth_failed", 2);
    await events.waitFor("disconnect", (f) => f.reason === "bad_mechanism");
    good.connect(endpoint);
    const big = new Uint8Array(300_000).fill(3);
    await good.send([b("http:1:"), b("hello")]);
    await good.send([b("big"), big, new Uint8Array(0)]);
    const got = await receiveN(pull, 2);
    assert.deepEqual(got[0]!.map(t), ["http:1:", "hello"]);
    assert.deepEqual(got[1]!.map((f) => f.length), [3, 300_000, 0]);
    assert.deepEqual(got[1]![1], big);
    assert.equal(pull.stats.messagesIn, 2, "nothing from the refused clients");
    assert.ok(events.count("authorized", (f) => f.key === client.publicKey) >= 1);
  } finally {
    await Promise.all([good, unknown, wrongServer, plain].map((s) => s.close()));
    await pull.close();
  }
});

test("PullSocket (CURVE server) gets 2000 messages in order from a libzmq CURVE PUSH", async () => {
  const server = curveKeyPair();
  const client = await libzmqKeyPair();
  const pull = new PullSocket({ curve: { ...server, authorizedKeys: [client.publicKey] } });
  const endpoint = await pull.bind("tcp://127.0.0.1:0");
  const peer = await pyzmqPeer({
    type: "PUSH",
    mode: "connect",
    endpoint,
    curve: { ...client, serverKey: server.publicKey },
  });
  try {
    await peer.generate(2000, b("seq"), 200);
    const got = await receiveN(pull, 2000);
    got.forEach((m, i) => assert.equal(seqOf(m), i));
    assert.equal(pull.stats.handshakes, 1);
  } finally {
    await peer.close();
    await pull.close();
  }
});

test("PullSocket (CURVE server) refuses a libzmq client with an unknown key", async () => {
  const events = eventLog();
  const server = curveKeyPair();
  const known = await libzmqKeyPair();
  const unknown = await libzmqKeyPair();
  const pull = new PullSocket({
    curve: { ...server, authorizedKeys: [known.publicKey] },
    logger: events.logger,
  });
  const endpoint = await pull.bind("tcp://127.0.0.1:0");
  const intruder = await pyzmqPeer({
    type: "PUSH",
    mode: "connect",
    endpoint,
    curve: { ...unknown, serverKey: server.publicKey },
  });
  let friend: Awaited<ReturnType<typeof pyzmqPeer>> | undefined;
  try {
    // libzmq queues the message; after our ERROR "400" it does not get through.
    await intruder.send([b("ban"), b("1.2.3.4")]);
    await events.waitFor("disconnect", (f) => f.reason === "auth_failed");
    assert.equal(events.count("refuse", (f) => f.reason === "auth_failed"), 1);
    assert.equal(pull.stats.handshakes, 0);
    friend = await pyzmqPeer({
      type: "PUSH",
      mode: "connect",
      endpoint,
      curve: { ...known, serverKey: server.publicKey },
    });
    await friend.send([b("ok")]);
    const [m] = await receiveN(pull, 1);
    assert.equal(t(m![0]!), "ok");
    assert.equal(pull.tryReceive(), undefined);
    assert.equal(pull.stats.messagesIn, 1);
    assert.ok(pull.stats.disconnected.auth_failed >= 1);
  } finally {
    await intruder.kill();
    await friend?.kill();
    await pull.close();
  }
});

test("PubSocket (CURVE server) is read by a libzmq CURVE SUB; an unknown SUB gets nothing", async () => {
  const events = eventLog();
  const server = curveKeyPair();
  const reader = await libzmqKeyPair();
  const stranger = await libzmqKeyPair();
  const pub = new PubSocket({
    curve: { ...server, authorizedKeys: [reader.publicKey] },
    logger: events.logger,
  });
  const endpoint = await pub.bind("tcp://127.0.0.1:0");
  const sub = await pyzmqPeer({
    type: "SUB",
    mode: "connect",
    endpoint,
    curve: { ...reader, serverKey: server.publicKey },
  });
  const spy = await pyzmqPeer({
    type: "SUB",
    mode: "connect",
    endpoint,
    curve: { ...stranger, serverKey: server.publicKey },
  });
  try {
    await sub.subscribe(b(""));
    await spy.subscribe(b(""));
    await events.waitFor("subscribe");
    await events.waitFor("disconnect", (f) => f.reason === "auth_failed");
    const commands = [b('{"method":"add","ip":"192.0.2.1"}'), b('{"method":"del"}')];
    for (const c of commands) assert.equal(pub.send([c]), 1);
    const got = await sub.receive(2);
    assert.deepEqual(got.map((m) => t(m[0]!)), commands.map(t));
    await assert.rejects(spy.receive(1, 300), /TIMEOUT 0/);
    assert.equal(pub.subscribers, 1);
  } finally {
    await sub.close();
    await spy.kill();
    await pub.close();
  }
});

test("PushSocket and SubSocket (CURVE clients) talk to libzmq CURVE servers", async () => {
  const pullKeys = await libzmqKeyPair();
  const pubKeys = await libzmqKeyPair();
  const mine = curveKeyPair();
  const pull = await pyzmqPeer({
    type: "PULL",
    mode: "bind",
    endpoint: "tcp://127.0.0.1:0",
    curve: { ...pullKeys, server: true },
  });
  const pubPeer = await pyzmqPeer({
    type: "PUB",
    mode: "bind",
    endpoint: "tcp://127.0.0.1:0",
    curve: { ...pubKeys, server: true },
  });
  const push = new PushSocket({ curve: { ...mine, serverKey: pullKeys.publicKey } });
  const sub = new SubSocket({ curve: { ...mine, serverKey: pubKeys.publicKey } });
  try {
    push.connect(pull.endpoint);
    await push.send([b("a"), b("b")]);
    await push.send([new Uint8Array(100_000).fill(1)]);
    const got = await pull.receive(2);
    assert.deepEqual(got[0]!.map(t), ["a", "b"]);
    assert.equal(got[1]![0]!.length, 100_000);

    sub.subscribe("cmd");
    sub.connect(pubPeer.endpoint);
    await pubPeer.probe([b("cmd-probe")]);
    const [m] = await receiveN(sub, 1);
    assert.equal(t(m![0]!), "cmd-probe");
    await pubPeer.stopProbe();
  } finally {
    await push.close();
    await sub.close();
    await pull.close();
    await pubPeer.close();
  }
});
