/**
 * PUSH→PULL against real libzmq (Debian python3-zmq), each side binding and connecting.
 */
import assert from "node:assert/strict";
import { PullSocket, PushSocket, type ZmtpOptions } from "../../../src/sensor/zmtp/mod.ts";
import { pyzmqAvailable } from "../../_support/pyzmq_available.ts";
import { pyzmqPeer } from "../../_support/pyzmq_peer.ts";
import { b, deadline, eventLog, receiveN, seqOf, t } from "./_events.ts";

const skip = pyzmqAvailable();
if (skip) console.warn(`zmtp interop tests skipped: ${skip}`);
const test = (name: string, fn: () => Promise<void>) => Deno.test({ name, ignore: !!skip, fn });

const MiB = 1024 * 1024;

function bigFrame(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** A qts PULL and a libzmq PUSH wired according to qtsMode. */
async function libzmqToPull(qtsMode: "bind" | "connect", options: ZmtpOptions = {}) {
  const pull = new PullSocket({ maxFrame: 2 * MiB, ...options });
  if (qtsMode === "bind") {
    const endpoint = await pull.bind("tcp://127.0.0.1:0");
    const peer = await pyzmqPeer({ type: "PUSH", mode: "connect", endpoint });
    return { pull, peer };
  }
  const peer = await pyzmqPeer({ type: "PUSH", mode: "bind", endpoint: "tcp://127.0.0.1:0" });
  pull.connect(peer.endpoint);
  return { pull, peer };
}

async function pushToLibzmq(qtsMode: "bind" | "connect", options: ZmtpOptions = {}) {
  const push = new PushSocket(options);
  if (qtsMode === "bind") {
    const endpoint = await push.bind("tcp://127.0.0.1:0");
    const peer = await pyzmqPeer({ type: "PULL", mode: "connect", endpoint });
    return { push, peer };
  }
  const peer = await pyzmqPeer({ type: "PULL", mode: "bind", endpoint: "tcp://127.0.0.1:0" });
  push.connect(peer.endpoint);
  return { push, peer };
}

for (const qtsMode of ["bind", "connect"] as const) {
  const peerMode = qtsMode === "bind" ? "connect" : "bind";

  test(`PullSocket (${qtsMode}) receives multipart, empty and 1 MiB frames from libzmq PUSH`, async () => {
    const { pull, peer } = await libzmqToPull(qtsMode);
    try {
      const big = bigFrame(MiB, 7);
      await peer.send([b("http:8984:"), b("body")]);
      await peer.sendMany([[new Uint8Array(0)], [
        b("a"),
        new Uint8Array(0),
        b("c"),
        new Uint8Array(0),
      ]]);
      await peer.send([b("big"), big]);
      const got = await receiveN(pull, 4);
      assert.deepEqual(got[0]!.map(t), ["http:8984:", "body"]);
      assert.deepEqual(got[1]!.map((f) => f.length), [0]);
      assert.deepEqual(got[2]!.map(t), ["a", "", "c", ""]);
      assert.equal(t(got[3]![0]!), "big");
      assert.deepEqual(got[3]![1], big);
      assert.equal(pull.stats.handshakes, 1);
    } finally {
      await peer.close();
      await pull.close();
    }
  });

  test(`PullSocket (${qtsMode}) gets 10k messages in order from each of two libzmq peers`, async () => {
    const pull = new PullSocket();
    const peers = [];
    try {
      if (qtsMode === "bind") {
        const endpoint = await pull.bind("tcp://127.0.0.1:0");
        for (let i = 0; i < 2; i++) {
          peers.push(await pyzmqPeer({ type: "PUSH", mode: "connect", endpoint }));
        }
      } else {
        for (let i = 0; i < 2; i++) {
          const peer = await pyzmqPeer({
            type: "PUSH",
            mode: "bind",
            endpoint: "tcp://127.0.0.1:0",
          });
          peers.push(peer);
          pull.connect(peer.endpoint);
        }
      }
      const sending = Promise.all(peers.map((p, i) => p.generate(10_000, b(`peer${i}`), 100)));
      const got = await receiveN(pull, 20_000, 60_000);
      await sending;
      const next = new Map<string, number>([["peer0", 0], ["peer1", 0]]);
      for (const m of got) {
        const who = t(m[0]!);
        assert.equal(seqOf(m), next.get(who), `${who} out of order`);
        next.set(who, seqOf(m) + 1);
      }
      assert.deepEqual([...next.values()], [10_000, 10_000]);
    } finally {
      await Promise.all(peers.map((p) => p.close()));
      await pull.close();
    }
  });

  test(`PullSocket (${qtsMode}) keeps receiving after the libzmq peer restarts`, async () => {
    const events = eventLog();
    const { pull, peer } = await libzmqToPull(qtsMode, { logger: events.logger, reconnect: 20 });
    let second: Awaited<ReturnType<typeof pyzmqPeer>> | undefined;
    try {
      await peer.send([b("before")]);
      assert.deepEqual((await receiveN(pull, 1))[0]!.map(t), ["before"]);
      await peer.kill();
      await events.waitFor("disconnect");
      second = await pyzmqPeer({ type: "PUSH", mode: peerMode, endpoint: peer.endpoint });
      await second.send([b("after")]);
      assert.deepEqual((await receiveN(pull, 1))[0]!.map(t), ["after"]);
      assert.equal(pull.stats.handshakes, 2);
    } finally {
      await second?.close();
      await pull.close();
    }
  });

  test(`PushSocket (${qtsMode}) sends multipart, empty and 1 MiB frames to libzmq PULL`, async () => {
    const { push, peer } = await pushToLibzmq(qtsMode);
    try {
      const big = bigFrame(MiB, 3);
      await push.send([b("http:1:"), b("x")]);
      await push.send([new Uint8Array(0)]);
      await push.send([b("a"), new Uint8Array(0), b("c")]);
      await push.send([big, b("tail")]);
      const got = await peer.receive(4);
      assert.deepEqual(got[0]!.map(t), ["http:1:", "x"]);
      assert.deepEqual(got[1]!.map((f) => f.length), [0]);
      assert.deepEqual(got[2]!.map(t), ["a", "", "c"]);
      assert.deepEqual(got[3]![0], big);
      assert.equal(t(got[3]![1]!), "tail");
    } finally {
      await push.close();
      await peer.close();
    }
  });

  test(`PushSocket (${qtsMode}) sends 10k messages in order to libzmq PULL`, async () => {
    const { push, peer } = await pushToLibzmq(qtsMode, { hwm: 1000 });
    try {
      const receiving = peer.receiveSequence(10_000, 30_000);
      for (let i = 0; i < 10_000; i++) {
        const body = new Uint8Array(64);
        new DataView(body.buffer).setUint32(0, i);
        await push.send([b("seq"), body]);
      }
      const result = await receiving;
      assert.equal(result.count, 10_000);
      assert.equal(result.inOrder, true);
      assert.equal(result.bytes, 10_000 * 67);
    } finally {
      await push.close();
      await peer.close();
    }
  });

  test(`PushSocket (${qtsMode}) delivers again after the libzmq peer restarts`, async () => {
    const events = eventLog();
    const { push, peer } = await pushToLibzmq(qtsMode, { logger: events.logger, reconnect: 20 });
    let second: Awaited<ReturnType<typeof pyzmqPeer>> | undefined;
    try {
      await push.send([b("before")]);
      assert.deepEqual((await peer.receive(1))[0]!.map(t), ["before"]);
      await peer.kill();
      await events.waitFor("disconnect");
      second = await pyzmqPeer({ type: "PULL", mode: peerMode, endpoint: peer.endpoint });
      // send() waits for the new peer: no peer, no room.
      await deadline(push.send([b("after")]), 10_000, "send after restart");
      assert.deepEqual((await second.receive(1))[0]!.map(t), ["after"]);
    } finally {
      await push.close();
      await second?.close();
    }
  });
}

test("PullSocket binds IPv6 [::1] and receives from libzmq", async () => {
  const pull = new PullSocket();
  const endpoint = await pull.bind("tcp://[::1]:0");
  assert.match(endpoint, /^tcp:\/\/\[::1\]:\d+$/);
  const peer = await pyzmqPeer({
    type: "PUSH",
    mode: "connect",
    endpoint,
    socketOptions: { ipv6: 1 },
  });
  try {
    await peer.send([b("v6")]);
    assert.deepEqual((await receiveN(pull, 1))[0]!.map(t), ["v6"]);
  } finally {
    await peer.close();
    await pull.close();
  }
});

test("PushSocket connects to libzmq over IPv6 [::1]", async () => {
  const peer = await pyzmqPeer({
    type: "PULL",
    mode: "bind",
    endpoint: "tcp://[::1]:0",
    socketOptions: { ipv6: 1 },
  });
  const push = new PushSocket();
  try {
    push.connect(peer.endpoint);
    await push.send([b("v6")]);
    assert.deepEqual((await peer.receive(1))[0]!.map(t), ["v6"]);
  } finally {
    await push.close();
    await peer.close();
  }
});

test("PullSocket answers libzmq heartbeats and its own PINGs get PONGs", async () => {
  const events = eventLog();
  const pull = new PullSocket({ logger: events.logger, heartbeatInterval: 20 });
  const endpoint = await pull.bind("tcp://127.0.0.1:0");
  const peer = await pyzmqPeer({
    type: "PUSH",
    mode: "connect",
    endpoint,
    socketOptions: { heartbeat: 20 },
  });
  try {
    // libzmq drops the connection when a PING goes unanswered (timeout = interval).
    await events.waitFor("ping", undefined, 5);
    await events.waitFor("pong", undefined, 5);
    await peer.send([b("alive")]);
    assert.deepEqual((await receiveN(pull, 1))[0]!.map(t), ["alive"]);
    assert.equal(pull.stats.accepted, 1);
    assert.equal(pull.stats.disconnected.heartbeat_timeout, 0);
  } finally {
    await peer.close();
    await pull.close();
  }
});
