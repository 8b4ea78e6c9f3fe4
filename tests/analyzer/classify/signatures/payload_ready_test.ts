import assert from "node:assert/strict";
import { payloadReady } from "../../../../src/analyzer/classify/signatures/payload_ready.ts";
import { bytes } from "./_input.ts";

Deno.test("payloadReady() stops a UDP direction after its first datagram", () => {
  assert.equal(payloadReady(17, bytes([1, 2, 3])), true);
});

Deno.test("payloadReady() stops a TCP direction at a complete 220 greeting line only", () => {
  assert.equal(payloadReady(6, bytes("220 (vsFTPd 3.0.3)\r\n")), true);
  assert.equal(payloadReady(6, bytes("220 (vsFTPd 3.0.3)")), false, "line not complete");
  assert.equal(payloadReady(1, bytes("220 x\r\n")), false, "ICMP");
});

Deno.test("payloadReady() stops a TCP direction at a complete HTTP request head only", () => {
  assert.equal(payloadReady(6, bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n")), true);
  assert.equal(payloadReady(6, bytes("GET / HTTP/1.1\r\nHost: a\r\n")), false, "head open");
  assert.equal(payloadReady(6, bytes("SSH-2.0-x\r\n\r\n")), false, "not HTTP");
});
