import assert from "node:assert/strict";
import {
  dnsSignature,
  parseDnsMessage,
} from "../../../../src/analyzer/classify/signatures/dns_signature.ts";
import { be16, bytes, dnsMessage, input } from "./_input.ts";

const UDP = { protocol: 17, dstPort: 53 };

Deno.test("dnsSignature() names a query and its answer; the query name is the domain", () => {
  const q = dnsMessage({ name: "WWW.vk.com" });
  const r = dnsMessage({ name: "www.vk.com", response: true, answers: ["10.200.3.1"] });
  assert.deepEqual(dnsSignature(input(q, r, UDP)), {
    protocol: "dns",
    domain: "www.vk.com",
    detail: "query",
  });
  assert.deepEqual(parseDnsMessage(r)?.addresses, ["10.200.3.1"]);
});

Deno.test("dnsSignature() reads DNS over TCP after the length prefix", () => {
  const q = dnsMessage({ name: "qts.test", qtype: 15 });
  const m = dnsSignature(input(Uint8Array.from([...be16(q.length), ...q]), "", { dstPort: 53 }));
  assert.equal(m?.domain, "qts.test");
});

Deno.test("dnsSignature() names a lone response and a root query", () => {
  const r = dnsMessage({ name: "a.example", response: true, answers: ["1.2.3.4"] });
  assert.equal(dnsSignature(input("", r, UDP))?.detail, "response");
  assert.equal(dnsSignature(input(dnsMessage({ name: "", qtype: 2 }), "", UDP))?.domain, "");
});

Deno.test("dnsSignature() rejects near misses", () => {
  const q = dnsMessage();
  const cases: [string, Uint8Array, Uint8Array][] = [
    ["answer with another id", q, dnsMessage({ id: 0x9999, response: true })],
    ["two questions", dnsMessage({ qdcount: 2 }), new Uint8Array(0)],
    ["class 7", dnsMessage({ qclass: 7 }), new Uint8Array(0)],
    ["qtype 0", dnsMessage({ qtype: 0 }), new Uint8Array(0)],
    ["a space in a label", dnsMessage({ name: "a b.example" }), new Uint8Array(0)],
    ["label of 64 bytes", dnsMessage({ name: `${"a".repeat(64)}.com` }), new Uint8Array(0)],
    ["header only", q.subarray(0, 12), new Uint8Array(0)],
    ["text", bytes("hello world, this is not dns"), new Uint8Array(0)],
  ];
  for (const [name, fwd, bwd] of cases) {
    assert.equal(dnsSignature(input(fwd, bwd, UDP)), undefined, name);
  }
  // A query that claims answers (opcode QUERY) is no query.
  const claims = dnsMessage();
  claims[7] = 1;
  assert.equal(dnsSignature(input(claims, "", UDP)), undefined, "query with an answer count");
  // TCP whose prefix does not announce a message.
  assert.equal(dnsSignature(input(Uint8Array.from([0, 5, ...q]), "")), undefined, "short prefix");
});

Deno.test("parseDnsMessage() writes AAAA answers the way flow addresses are written", () => {
  const r = dnsMessage({ name: "v6.example", response: true, qtype: 28 });
  const aaaa = Uint8Array.from([
    ...r.subarray(0, 6),
    0,
    1,
    ...r.subarray(8),
    0xc0,
    12,
    0,
    28,
    0,
    1,
    0,
    0,
    0,
    60,
    0,
    16,
    0xfd,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
  ]);
  assert.deepEqual(parseDnsMessage(aaaa)?.addresses, ["fd00::1"]);
});
