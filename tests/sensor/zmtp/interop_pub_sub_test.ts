/**
 * PUB→SUB with prefix filters against real libzmq (Debian python3-zmq), each side binding and
 * connecting. Slow joiners are handled without sleeps: a libzmq PUB "probes" until the qts SUB
 * sees a probe; a qts PUB waits for the SUBSCRIBE it logs.
 */
import assert from "node:assert/strict";
import { PubSocket, SubSocket, type ZmtpOptions } from "../../../src/sensor/zmtp/mod.ts";
import { pyzmqAvailable } from "../../_support/pyzmq_available.ts";
import { type PyzmqPeer, pyzmqPeer } from "../../_support/pyzmq_peer.ts";
import { b, deadline, eventLog, seqOf, t } from "./_events.ts";

const skip = pyzmqAvailable();
if (skip) console.warn(`zmtp interop tests skipped: ${skip}`);
const test = (name: string, fn: () => Promise<void>) => Deno.test({ name, ignore: !!skip, fn });

const MiB = 1024 * 1024;
const PROBE = "A-probe";

type Mode = "bind" | "connect";

async function libzmqPubToSub(qtsMode: Mode, options: ZmtpOptions = {}) {
  const sub = new SubSocket({ maxFrame: 2 * MiB, ...options });
  // sndhwm 0: libzmq's PUB would otherwise drop past 1000 queued messages.
  const socketOptions = { sndhwm: 0 };
  if (qtsMode === "bind") {
    const endpoint = await sub.bind("tcp://127.0.0.1:0");
    const peer = await pyzmqPeer({ type: "PUB", mode: "connect", endpoint, socketOptions });
    return { sub, peer };
  }
  const peer = await pyzmqPeer({
    type: "PUB",
    mode: "bind",
    endpoint: "tcp://127.0.0.1:0",
    socketOptions,
  });
  sub.connect(peer.endpoint);
  return { sub, peer };
}

async function qtsPubToLibzmq(qtsMode: Mode, options: ZmtpOptions = {}) {
  const pub = new PubSocket(options);
  if (qtsMode === "bind") {
    const endpoint = await pub.bind("tcp://127.0.0.1:0");
    const peer = await pyzmqPeer({ type: "SUB", mode: "connect", endpoint });
    return { pub, peer };
  }
  const peer = await pyzmqPeer({ type: "SUB", mode: "bind", endpoint: "tcp://127.0.0.1:0" });
  pub.connect(peer.endpoint);
  return { pub, peer };
}

/** Receives the next message that is not a probe. */
async function nextReal(sub: SubSocket): Promise<Uint8Array[]> {
  for (;;) {
    const m = await deadline(sub.receive(), 20_000, "a message on the SUB");
    if (m === undefined) throw new Error("SUB closed");
    if (t(m[0]!) !== PROBE) return m;
  }
}

/** Lets the libzmq PUB publish probes until the qts SUB gets one: the subscription is in place. */
async function waitSubscribed(sub: SubSocket, peer: PyzmqPeer): Promise<void> {
  await peer.probe([b(PROBE)]);
  for (;;) {
    const m = await deadline(sub.receive(), 20_000, "a probe on the SUB");
    if (m !== undefined && t(m[0]!) === PROBE) break;
  }
  await peer.stopProbe();
}

for (const qtsMode of ["bind", "connect"] as const) {
  const peerMode: Mode = qtsMode === "bind" ? "connect" : "bind";

  test(`SubSocket (${qtsMode}) gets only subscribed prefixes from libzmq PUB`, async () => {
    const { sub, peer } = await libzmqPubToSub(qtsMode);
    try {
      sub.subscribe("A");
      sub.subscribe(b("C:"));
      await waitSubscribed(sub, peer);
      const big = new Uint8Array(MiB).fill(0x5a);
      await peer.send([b("B"), b("x")]);
      await peer.send([b("A1"), b("y")]);
      await peer.send([b("C:1"), new Uint8Array(0), b("z")]);
      await peer.send([b("C"), b("no")]);
      await peer.send([b("A-big"), big]);
      await peer.send([b("A-end")]);
      const got = [];
      for (let i = 0; i < 4; i++) got.push(await nextReal(sub));
      assert.deepEqual(got.map((m) => t(m[0]!)), ["A1", "C:1", "A-big", "A-end"]);
      assert.deepEqual(got[1]!.map(t), ["C:1", "", "z"]);
      assert.deepEqual(got[2]![1], big);
      // Unsubscribing applies locally at once, even before the PUB has processed the CANCEL.
      sub.unsubscribe("A");
      await peer.send([b("A2")]);
      await peer.send([b("C:end")]);
      assert.equal(t((await nextReal(sub))[0]!), "C:end");
    } finally {
      await peer.close();
      await sub.close();
    }
  });

  test(`SubSocket (${qtsMode}) gets 10k messages in order from libzmq PUB`, async () => {
    const { sub, peer } = await libzmqPubToSub(qtsMode);
    try {
      sub.subscribe("A");
      await waitSubscribed(sub, peer);
      await peer.generate(10_000, b("A"), 100);
      for (let i = 0; i < 10_000; i++) {
        const m = await nextReal(sub);
        assert.equal(seqOf(m), i);
      }
    } finally {
      await peer.close();
      await sub.close();
    }
  });

  test(`SubSocket (${qtsMode}) re-subscribes after the libzmq PUB restarts`, async () => {
    const events = eventLog();
    const { sub, peer } = await libzmqPubToSub(qtsMode, { logger: events.logger, reconnect: 20 });
    let second: PyzmqPeer | undefined;
    try {
      sub.subscribe("A");
      await waitSubscribed(sub, peer);
      await peer.kill();
      await events.waitFor("disconnect");
      second = await pyzmqPeer({ type: "PUB", mode: peerMode, endpoint: peer.endpoint });
      await waitSubscribed(sub, second);
      await second.send([b("A-after")]);
      assert.equal(t((await nextReal(sub))[0]!), "A-after");
      assert.equal(sub.stats.handshakes, 2);
    } finally {
      await second?.close();
      await sub.close();
    }
  });

  test(`PubSocket (${qtsMode}) filters by prefix for libzmq SUB`, async () => {
    const events = eventLog();
    const { pub, peer } = await qtsPubToLibzmq(qtsMode, { logger: events.logger });
    try {
      await peer.subscribe(b("A"));
      await peer.subscribe(b("C:"));
      await events.waitFor("subscribe", undefined, 2);
      assert.equal(pub.subscribers, 1);
      const big = new Uint8Array(MiB).fill(0xa5);
      assert.equal(pub.send([b("B"), b("x")]), 0);
      assert.equal(pub.send([b("A1"), b("y")]), 1);
      pub.send([b("C:1"), new Uint8Array(0), b("z")]);
      pub.send([b("C"), b("no")]);
      pub.send([b("A-big"), big]);
      pub.send([b("A-end")]);
      const got = await peer.receive(4);
      assert.deepEqual(got.map((m) => t(m[0]!)), ["A1", "C:1", "A-big", "A-end"]);
      assert.deepEqual(got[1]!.map(t), ["C:1", "", "z"]);
      assert.deepEqual(got[2]![1], big);
      await peer.unsubscribe(b("A"));
      await events.waitFor("cancel");
      assert.equal(pub.send([b("A2")]), 0);
      pub.send([b("C:end")]);
      assert.deepEqual((await peer.receive(1))[0]!.map(t), ["C:end"]);
    } finally {
      await pub.close();
      await peer.close();
    }
  });

  test(`PubSocket (${qtsMode}) sends 10k messages in order to libzmq SUB`, async () => {
    const events = eventLog();
    const { pub, peer } = await qtsPubToLibzmq(qtsMode, { logger: events.logger, hwm: 20_000 });
    try {
      await peer.subscribe(b("A"));
      await events.waitFor("subscribe");
      const receiving = peer.receiveSequence(10_000, 30_000);
      for (let i = 0; i < 10_000; i++) {
        const body = new Uint8Array(64);
        new DataView(body.buffer).setUint32(0, i);
        pub.send([b("A"), body]);
        pub.send([b("B"), body]);
      }
      const result = await receiving;
      assert.equal(result.count, 10_000);
      assert.equal(result.inOrder, true);
      assert.equal(pub.stats.droppedHwm, 0);
    } finally {
      await pub.close();
      await peer.close();
    }
  });

  test(`PubSocket (${qtsMode}) reaches a libzmq SUB again after it restarts`, async () => {
    const events = eventLog();
    const { pub, peer } = await qtsPubToLibzmq(qtsMode, { logger: events.logger, reconnect: 20 });
    let second: PyzmqPeer | undefined;
    try {
      await peer.subscribe(b("A"));
      await events.waitFor("subscribe");
      await peer.kill();
      await events.waitFor("disconnect");
      second = await pyzmqPeer({ type: "SUB", mode: peerMode, endpoint: peer.endpoint });
      await second.subscribe(b("A"));
      await events.waitFor("subscribe", undefined, 2);
      assert.equal(pub.send([b("A-after")]), 1);
      assert.deepEqual((await second.receive(1))[0]!.map(t), ["A-after"]);
    } finally {
      await pub.close();
      await second?.close();
    }
  });
}
