import assert from "node:assert/strict";
import { socks5Signature } from "../../../../src/analyzer/classify/signatures/socks5_signature.ts";
import { bytes, input } from "./_input.ts";

const connect = (host: string) =>
  bytes([5, 1, 0, 3, host.length], host, [0, 80], "GET / HTTP/1.1\r\n");

Deno.test("socks5Signature() names a greeting answered with an offered method", () => {
  assert.deepEqual(
    socks5Signature(input(bytes([5, 2, 0, 1]), bytes([5, 0]), { dstPort: 1080 })),
    { protocol: "socks5", detail: "greeting" },
  );
  assert.equal(socks5Signature(input(bytes([5, 1, 0]), bytes([5, 0xff])))?.protocol, "socks5");
});

Deno.test("socks5Signature() takes the CONNECT target name as the domain", () => {
  const fwd = bytes([5, 1, 0], connect("Web.QTS.test"));
  assert.equal(socks5Signature(input(fwd, bytes([5, 0, 5, 0, 0, 1])))?.domain, "web.qts.test");
  // Username/password sub-negotiation before the request.
  const auth = bytes([5, 1, 2], [1, 1], "u", [1], "p", connect("vk.com"));
  assert.equal(socks5Signature(input(auth, bytes([5, 2, 1, 0])))?.domain, "vk.com");
  // Pipelined request with no reply captured.
  assert.equal(socks5Signature(input(bytes([5, 1, 0], connect("a.example"))))?.domain, "a.example");
});

Deno.test("socks5Signature() rejects near misses", () => {
  for (
    const [name, fwd, bwd] of [
      ["SOCKS4", bytes([4, 1, 0, 80, 10, 0, 0, 1, 0]), bytes([0, 90])],
      ["no methods", bytes([5, 0]), bytes([5, 0])],
      ["method not offered", bytes([5, 1, 0]), bytes([5, 2])],
      ["reserved method", bytes([5, 1, 0x0a]), bytes([5, 0x0a])],
      ["greeting without any answer", bytes([5, 1, 0]), bytes([])],
      ["garbage after the greeting", bytes([5, 1, 0], "hello world"), bytes([5, 0])],
      ["reply of another version", bytes([5, 1, 0]), bytes([4, 0])],
    ] as const
  ) assert.equal(socks5Signature(input(fwd, bwd)), undefined, name);
});
