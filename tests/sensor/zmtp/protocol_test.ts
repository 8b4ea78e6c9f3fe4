import assert from "node:assert/strict";
import {
  checkGreeting,
  encodeCommand,
  encodeGreeting,
  encodeReady,
  headerSize,
  parseProperties,
  writeHeader,
} from "../../../src/sensor/zmtp/_protocol.ts";
import { formatEndpoint, parseEndpoint } from "../../../src/sensor/zmtp/_endpoint.ts";
import { Subscriptions } from "../../../src/sensor/zmtp/_subscriptions.ts";
import { Deque } from "../../../src/sensor/zmtp/_deque.ts";
import { b } from "./_events.ts";
import { greetingBytes, readyBytes } from "./_raw_peer.ts";

Deno.test("encodeGreeting() is a 64-byte ZMTP 3.1 NULL greeting", () => {
  const g = encodeGreeting();
  assert.equal(g.length, 64);
  assert.deepEqual(g, greetingBytes(3, 1, "NULL"));
  assert.equal(checkGreeting(g, 64), undefined);
});

Deno.test("checkGreeting() refuses garbage after its first byte", () => {
  assert.equal(checkGreeting(b("G"), 1), "bad_greeting");
  assert.equal(checkGreeting(b("GET / HTTP/1.1\r\n"), 16), "bad_greeting");
});

Deno.test("checkGreeting() refuses ZMTP 2.0 and accepts 3.0 and later", () => {
  assert.equal(checkGreeting(greetingBytes(1, 0), 64), "bad_greeting");
  assert.equal(checkGreeting(greetingBytes(3, 0), 64), undefined);
  assert.equal(checkGreeting(greetingBytes(4, 7), 64), undefined);
});

Deno.test("checkGreeting() refuses a mechanism other than NULL", () => {
  assert.equal(checkGreeting(greetingBytes(3, 1, "PLAIN"), 64), "bad_mechanism");
  assert.equal(checkGreeting(greetingBytes(3, 1, "NULLX"), 64), "bad_mechanism");
  assert.equal(checkGreeting(greetingBytes(3, 1, "PLAIN"), 20), undefined);
});

Deno.test("encodeReady() carries Socket-Type and parseProperties() reads it back", () => {
  const ready = encodeReady("PULL");
  assert.deepEqual(ready, readyBytes("PULL"));
  const props = parseProperties(ready.subarray(2 + 6));
  assert.equal(new TextDecoder().decode(props.get("socket-type")), "PULL");
});

Deno.test("parseProperties() rejects a value length past the end", () => {
  const data = new Uint8Array([3, 0x61, 0x62, 0x63, 0, 0, 0, 9, 1]);
  assert.throws(() => parseProperties(data), SyntaxError);
  assert.throws(() => parseProperties(new Uint8Array([0, 0, 0, 0, 0])), SyntaxError);
});

Deno.test("writeHeader() switches to an 8-byte size above 255", () => {
  const out = new Uint8Array(9);
  assert.equal(writeHeader(out, 0, 1, 255), 2);
  assert.deepEqual([...out.subarray(0, 2)], [1, 255]);
  assert.equal(writeHeader(out, 0, 1, 0x1_0203_0405), 9);
  assert.deepEqual([...out], [3, 0, 0, 0, 1, 2, 3, 4, 5]);
  assert.equal(headerSize(256), 9);
  assert.equal(encodeCommand("PING").length, 2 + 5);
});

Deno.test("parseEndpoint() reads IPv4, IPv6 and wildcard endpoints", () => {
  assert.deepEqual(parseEndpoint("tcp://127.0.0.1:4100", "connect"), {
    hostname: "127.0.0.1",
    port: 4100,
  });
  assert.deepEqual(parseEndpoint("tcp://[::1]:4100", "bind"), { hostname: "::1", port: 4100 });
  assert.deepEqual(parseEndpoint("tcp://*:4100", "bind"), { hostname: "0.0.0.0", port: 4100 });
  assert.deepEqual(parseEndpoint("tcp://localhost:1", "connect"), {
    hostname: "localhost",
    port: 1,
  });
  assert.equal(formatEndpoint("::1", 5), "tcp://[::1]:5");
});

Deno.test("parseEndpoint() rejects what it cannot use", () => {
  assert.throws(() => parseEndpoint("tcp://*:4100", "connect"), TypeError);
  assert.throws(() => parseEndpoint("ipc:///tmp/x", "bind"), TypeError);
  assert.throws(() => parseEndpoint("tcp://127.0.0.1", "bind"), TypeError);
  assert.throws(() => parseEndpoint("tcp://127.0.0.1:70000", "bind"), RangeError);
  assert.throws(() => parseEndpoint("tcp://127.0.0.1:0", "connect"), RangeError);
});

Deno.test("Subscriptions matches prefixes and counts repeats", () => {
  const subs = new Subscriptions();
  assert.equal(subs.matches(b("http:1")), false);
  subs.add(b("http:"));
  subs.add(b("http:"));
  assert.equal(subs.matches(b("http:8984:")), true);
  assert.equal(subs.matches(b("htt")), false);
  assert.equal(subs.matches(b("dns:")), false);
  assert.equal(subs.remove(b("http:")), true);
  assert.equal(subs.matches(b("http:8984:")), true);
  assert.equal(subs.remove(b("http:")), true);
  assert.equal(subs.matches(b("http:8984:")), false);
  assert.equal(subs.remove(b("http:")), false);
  subs.add(new Uint8Array(0));
  assert.equal(subs.matches(b("anything")), true);
  assert.equal(subs.matches(undefined), true);
  assert.equal([...subs].length, 1);
});

Deno.test("Deque keeps FIFO order across growth and wrap-around", () => {
  const q = new Deque<number>();
  let next = 0;
  let expect = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 7; i++) q.push(next++);
    for (let i = 0; i < 5; i++) assert.equal(q.shift(), expect++);
  }
  assert.equal(q.length, next - expect);
  while (q.length > 0) assert.equal(q.shift(), expect++);
  assert.equal(q.shift(), undefined);
});
