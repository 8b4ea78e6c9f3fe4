import assert from "node:assert/strict";
import dgram from "node:dgram";
import { dnsResolver } from "../../../src/sensor/ingest/dns_resolver.ts";
import { parseIPv4, parseIPv6Hex } from "../../../src/shared/net/ip.ts";

const TYPES: Record<number, string> = { 1: "A", 12: "PTR", 28: "AAAA" };
const RCODES = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

/** What the test server says to "TYPE name": answers, an error code, or nothing at all. */
type Reply = string[] | keyof typeof RCODES | "silence";

function encodeName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split(".")) {
    if (label === "") continue;
    const bytes = new TextEncoder().encode(label);
    out.push(bytes.length, ...bytes);
  }
  out.push(0);
  return out;
}

function rdata(type: string, answer: string): number[] {
  if (type === "A") {
    const n = parseIPv4(answer)!;
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  }
  if (type === "AAAA") {
    const hex = parseIPv6Hex(answer)!;
    return Array.from({ length: 16 }, (_, i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16));
  }
  return encodeName(answer);
}

/**
 * A tiny authoritative-looking DNS server on 127.0.0.1 (UDP, random port) answering A, AAAA and
 * PTR questions from `replies` (absent = NXDOMAIN). node:dgram because Deno.listenDatagram
 * needs --unstable-net.
 */
async function dnsServer(replies: Record<string, Reply>) {
  const socket = dgram.createSocket("udp4");
  const queries: string[] = [];
  socket.on("message", (message: Uint8Array, peer: { address: string; port: number }) => {
    const query = new Uint8Array(message);
    const labels: string[] = [];
    let at = 12;
    while (query[at] !== 0) {
      const length = query[at]!;
      labels.push(new TextDecoder().decode(query.subarray(at + 1, at + 1 + length)));
      at += length + 1;
    }
    const qtype = (query[at + 1]! << 8) | query[at + 2]!;
    const type = TYPES[qtype] ?? String(qtype);
    const key = `${type} ${labels.join(".")}`;
    queries.push(key);
    const reply = replies[key] ?? "NXDOMAIN";
    if (reply === "silence") return;
    const answers = typeof reply === "string" ? [] : reply;
    const rcode = typeof reply === "string" ? RCODES[reply] : 0;
    const out = [query[0]!, query[1]!, 0x85, 0x80 | rcode, 0, 1, 0, answers.length, 0, 0, 0, 0];
    out.push(...query.subarray(12, at + 5));
    for (const answer of answers) {
      const data = rdata(type, answer);
      // Name as a pointer to the question, type, class IN, TTL 60, data.
      out.push(0xc0, 12, qtype >> 8, qtype & 255, 0, 1, 0, 0, 0, 60, data.length >> 8, data.length);
      out.push(...data);
    }
    socket.send(new Uint8Array(out), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return {
    port: socket.address().port,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

Deno.test("dnsResolver() answers PTR, A and AAAA from a name server, lowercase without dot", async () => {
  const server = await dnsServer({
    "PTR 1.66.249.66.in-addr.arpa": ["Crawl-66-249-66-1.GoogleBot.com."],
    "A crawl-66-249-66-1.googlebot.com": ["66.249.66.1", "66.249.66.2"],
    "AAAA crawl.example.org": ["2001:db8::abc"],
  });
  try {
    const resolve = dnsResolver({ nameServer: { ipAddr: "127.0.0.1", port: server.port } });
    assert.deepEqual(await resolve("1.66.249.66.in-addr.arpa", "PTR", 2000), [
      "crawl-66-249-66-1.googlebot.com",
    ]);
    assert.deepEqual(
      (await resolve("crawl-66-249-66-1.googlebot.com", "A", 2000)).sort(),
      ["66.249.66.1", "66.249.66.2"],
    );
    assert.deepEqual(await resolve("crawl.example.org", "AAAA", 2000), ["2001:db8::abc"]);
  } finally {
    await server.close();
  }
});

Deno.test("dnsResolver() resolves [] when the name has no such record", async () => {
  const server = await dnsServer({ "A empty.example.org": [] });
  try {
    const resolve = dnsResolver({ nameServer: { ipAddr: "127.0.0.1", port: server.port } });
    assert.deepEqual(await resolve("2.0.0.203.in-addr.arpa", "PTR", 2000), [], "NXDOMAIN");
    assert.deepEqual(await resolve("empty.example.org", "A", 2000), [], "NOERROR, no answer");
  } finally {
    await server.close();
  }
});

Deno.test("dnsResolver() cannot tell SERVFAIL or REFUSED from NXDOMAIN (Deno says NotFound)", async () => {
  // Pins a Deno limitation the filter lives with: if this starts rejecting, Deno now tells
  // resolver failures apart and trusted_sources gets "unknown" for them, which is better.
  const server = await dnsServer({
    "A servfail.example.org": "SERVFAIL",
    "A refused.example.org": "REFUSED",
  });
  try {
    const resolve = dnsResolver({ nameServer: { ipAddr: "127.0.0.1", port: server.port } });
    assert.deepEqual(await resolve("servfail.example.org", "A", 2000), []);
    assert.deepEqual(await resolve("refused.example.org", "A", 2000), []);
  } finally {
    await server.close();
  }
});

Deno.test("dnsResolver() rejects when the name server does not answer in time", async () => {
  const server = await dnsServer({ "PTR 1.0.0.203.in-addr.arpa": "silence" });
  try {
    const resolve = dnsResolver({ nameServer: { ipAddr: "127.0.0.1", port: server.port } });
    await assert.rejects(
      resolve("1.0.0.203.in-addr.arpa", "PTR", 100),
      (error: Error) => error.name === "TimeoutError",
    );
    assert.ok(server.queries.includes("PTR 1.0.0.203.in-addr.arpa"), "the query was sent");
  } finally {
    await server.close();
  }
});

Deno.test("dnsResolver() rejects without net permission for the name server", async () => {
  // 192.0.2.1 (TEST-NET-1) is outside --allow-net=127.0.0.1,…: Deno refuses (NotCapable). With
  // wider permissions the query goes nowhere and times out instead; either way it rejects.
  const resolve = dnsResolver({ nameServer: { ipAddr: "192.0.2.1", port: 53 } });
  const allowed = Deno.permissions.querySync({ name: "net", host: "192.0.2.1:53" }).state;
  await assert.rejects(
    resolve("1.0.0.203.in-addr.arpa", "PTR", 200),
    (error: Error) => allowed === "granted" || error instanceof Deno.errors.NotCapable,
  );
});

Deno.test("dnsResolver() refuses a PTR query for a bare address", async () => {
  const resolve = dnsResolver({ nameServer: { ipAddr: "127.0.0.1", port: 9 } });
  await assert.rejects(resolve("66.249.66.1", "PTR", 100), TypeError);
  await assert.rejects(resolve("2001:db8::1", "PTR", 100), TypeError);
});
