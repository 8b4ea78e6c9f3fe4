/**
 * qts-to-qts socket semantics: round-robin, fair queuing, back-pressure, close, reconnect.
 */
import assert from "node:assert/strict";
import { PubSocket, PullSocket, PushSocket, SubSocket } from "../../../src/sensor/zmtp/mod.ts";
import { b, deadline, eventLog, receiveN, t } from "./_events.ts";

Deno.test("PushSocket round-robins across ready PULL peers", async () => {
  const events = eventLog();
  const push = new PushSocket({ logger: events.logger });
  const endpoint = await push.bind("tcp://127.0.0.1:0");
  const pulls = [new PullSocket(), new PullSocket()];
  for (const pull of pulls) pull.connect(endpoint);
  try {
    await events.waitFor("ready", undefined, 2);
    for (let i = 0; i < 10; i++) await push.send([b(String(i))]);
    const [a, c] = await Promise.all(pulls.map((pull) => receiveN(pull, 5)));
    const got = [...a!, ...c!].map((m) => Number(t(m[0]!))).sort((x, y) => x - y);
    assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Alternating: each peer got every other message.
    const parity = (ms: Uint8Array[][]) => new Set(ms.map((m) => Number(t(m[0]!)) % 2));
    assert.equal(parity(a!).size, 1);
    assert.equal(parity(c!).size, 1);
  } finally {
    await push.close();
    await Promise.all(pulls.map((pull) => pull.close()));
  }
});

Deno.test("PullSocket takes messages fair-queued from backlogged peers", async () => {
  const events = eventLog();
  const hwm = 8;
  const pull = new PullSocket({ logger: events.logger, hwm });
  const endpoint = await pull.bind("tcp://127.0.0.1:0");
  const pushes = [new PushSocket(), new PushSocket()];
  try {
    for (const [i, push] of pushes.entries()) {
      push.connect(endpoint);
      for (let n = 0; n < 50; n++) await push.send([b(`p${i}`), b(String(n))]);
    }
    // Both readers paused with a full queue: now the order is ours to decide.
    await events.waitFor("pause", undefined, 2);
    const firsts: Uint8Array[][] = [];
    for (let n = 0; n < 2 * hwm; n++) firsts.push(pull.tryReceive()!);
    for (let n = 1; n < firsts.length; n++) {
      assert.notEqual(t(firsts[n]![0]!), t(firsts[n - 1]![0]!), `message ${n} not alternating`);
    }
    // Everything else still arrives, in order per peer.
    const rest = await receiveN(pull, 100 - 2 * hwm);
    const next = new Map([["p0", 0], ["p1", 0]]);
    for (const m of [...firsts, ...rest]) {
      const who = t(m[0]!);
      assert.equal(Number(t(m[1]!)), next.get(who));
      next.set(who, next.get(who)! + 1);
    }
    assert.deepEqual([...next.values()], [50, 50]);
  } finally {
    await Promise.all(pushes.map((push) => push.close()));
    await pull.close();
  }
});

Deno.test("PushSocket.trySend() refuses at the high-water mark and send() waits for room", async () => {
  const events = eventLog();
  const pull = new PullSocket();
  const endpoint = await pull.bind("tcp://127.0.0.1:0");
  const push = new PushSocket({ hwm: 4, logger: events.logger });
  try {
    assert.equal(push.trySend([b("no peer yet")]), false);
    push.connect(endpoint);
    await events.waitFor("ready");
    for (let i = 0; i < 4; i++) assert.equal(push.trySend([b(String(i))]), true);
    assert.equal(push.trySend([b("x")]), false);
    const waiting = push.send([b("4")]);
    const got = await receiveN(pull, 5);
    assert.deepEqual(got.map((m) => t(m[0]!)), ["0", "1", "2", "3", "4"]);
    await deadline(waiting, 5_000, "the waiting send");
  } finally {
    await push.close();
    await pull.close();
  }
});

Deno.test("PushSocket.send() waits for a peer and rejects when closed meanwhile", async () => {
  const push = new PushSocket();
  const waiting = push.send([b("x")]);
  await push.close();
  await assert.rejects(waiting, TypeError);
  await assert.rejects(push.send([b("y")]), TypeError);
  assert.throws(() => push.send([]), TypeError);
  assert.throws(() => push.connect("tcp://127.0.0.1:1"), TypeError);
});

Deno.test("PullSocket.close() ends a waiting iterator and receive()", async () => {
  const pull = new PullSocket();
  await pull.bind("tcp://127.0.0.1:0");
  const iterating = (async () => {
    let n = 0;
    for await (const _ of pull) n++;
    return n;
  })();
  const receiving = pull.receive();
  await pull.close();
  assert.equal(await deadline(iterating, 5_000, "the iterator to end"), 0);
  assert.equal(await receiving, undefined);
  await pull.close(); // idempotent
});

Deno.test("PullSocket delivers what arrived before the peer left", async () => {
  const events = eventLog();
  const pull = new PullSocket({ logger: events.logger });
  const endpoint = await pull.bind("tcp://127.0.0.1:0");
  const push = new PushSocket({ linger: 5_000 });
  push.connect(endpoint);
  for (let i = 0; i < 1000; i++) await push.send([b(String(i))]);
  await push.close(); // linger: everything is written before the connection closes
  await events.waitFor("disconnect");
  try {
    const got = await receiveN(pull, 1000);
    assert.deepEqual(got.map((m) => Number(t(m[0]!))), [...Array(1000).keys()]);
  } finally {
    await pull.close();
  }
});

Deno.test("PullSocket connects over IPv6 and reconnects when the PUSH side comes back", async () => {
  const events = eventLog();
  const pull = new PullSocket({ logger: events.logger, reconnect: 10, reconnectMax: 50 });
  let push = new PushSocket();
  const endpoint = await push.bind("tcp://[::1]:0");
  pull.connect(endpoint);
  try {
    await push.send([b("one")]);
    assert.equal(t((await receiveN(pull, 1))[0]![0]!), "one");
    await push.close();
    await events.waitFor("disconnect");
    push = new PushSocket();
    await push.bind(endpoint);
    await push.send([b("two")]);
    assert.equal(t((await receiveN(pull, 1))[0]![0]!), "two");
    assert.equal(pull.stats.handshakes, 2);
    assert.ok(pull.stats.connected >= 2);
  } finally {
    await push.close();
    await pull.close();
  }
});

Deno.test("PullSocket keeps retrying a connect that is refused, with backoff", async () => {
  const events = eventLog();
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close(); // a port that now refuses connections
  const pull = new PullSocket({ logger: events.logger, reconnect: 1, reconnectMax: 8 });
  pull.connect(`tcp://127.0.0.1:${port}`);
  try {
    await events.waitFor("connect_failed", undefined, 5);
    const delays = events.seen.filter((e) => e.event === "connect_failed").map((e) =>
      e.fields.retryMs
    );
    assert.deepEqual(delays.slice(0, 5), [1, 2, 4, 8, 8]);
    const push = new PushSocket();
    try {
      await push.bind(`tcp://127.0.0.1:${port}`);
      await push.send([b("finally")]);
      assert.equal(t((await receiveN(pull, 1))[0]![0]!), "finally");
    } finally {
      await push.close();
    }
  } finally {
    await pull.close();
  }
});

Deno.test("PubSocket fans out to several SUBs, each with its own prefixes", async () => {
  const events = eventLog();
  const pub = new PubSocket({ logger: events.logger });
  const endpoint = await pub.bind("tcp://127.0.0.1:0");
  const subs = [new SubSocket(), new SubSocket(), new SubSocket()];
  subs[0]!.subscribe("http:");
  subs[1]!.subscribe("http:8984:");
  subs[2]!.subscribe("");
  for (const sub of subs) sub.connect(endpoint);
  try {
    await events.waitFor("subscribe", undefined, 3);
    assert.equal(pub.subscribers, 3);
    assert.equal(pub.send([b("http:1:"), b("a")]), 2);
    assert.equal(pub.send([b("http:8984:"), b("b")]), 3);
    assert.equal(pub.send([b("dns:"), b("c")]), 1);
    const [s0, s1, s2] = await Promise.all([
      receiveN(subs[0]!, 2),
      receiveN(subs[1]!, 1),
      receiveN(subs[2]!, 3),
    ]);
    assert.deepEqual(s0!.map((m) => t(m[1]!)), ["a", "b"]);
    assert.deepEqual(s1!.map((m) => t(m[1]!)), ["b"]);
    assert.deepEqual(s2!.map((m) => t(m[1]!)), ["a", "b", "c"]);
    assert.equal(pub.stats.messagesOut, 6);
  } finally {
    await pub.close();
    await Promise.all(subs.map((sub) => sub.close()));
  }
});

Deno.test("SubSocket binds and re-subscribes a PUB that reconnects", async () => {
  const events = eventLog();
  const sub = new SubSocket();
  sub.subscribe("A");
  const endpoint = await sub.bind("tcp://127.0.0.1:0");
  let pub = new PubSocket({ logger: events.logger });
  pub.connect(endpoint);
  try {
    await events.waitFor("subscribe");
    pub.send([b("A1")]);
    assert.equal(t((await receiveN(sub, 1))[0]![0]!), "A1");
    await pub.close();
    pub = new PubSocket({ logger: events.logger });
    pub.connect(endpoint);
    await events.waitFor("subscribe", undefined, 2);
    pub.send([b("B2")]);
    pub.send([b("A2")]);
    assert.equal(t((await receiveN(sub, 1))[0]![0]!), "A2");
  } finally {
    await pub.close();
    await sub.close();
  }
});

Deno.test("sockets reject bad options and bad endpoints at once", async () => {
  assert.throws(() => new PullSocket({ hwm: 0 }), RangeError);
  assert.throws(() => new PullSocket({ maxFrame: -1 }), RangeError);
  assert.throws(() => new PullSocket({ reconnect: Number.NaN }), RangeError);
  const pull = new PullSocket();
  assert.throws(() => pull.connect("tcp://*:4100"), TypeError);
  await assert.rejects(pull.bind("udp://127.0.0.1:4100"), TypeError);
  const taken = new PullSocket();
  const endpoint = await taken.bind("tcp://127.0.0.1:0");
  try {
    await assert.rejects(pull.bind(endpoint), Deno.errors.AddrInUse);
  } finally {
    await taken.close();
  }
});
