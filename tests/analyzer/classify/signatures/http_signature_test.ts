import assert from "node:assert/strict";
import {
  httpSignature,
  parseHttpRequest,
} from "../../../../src/analyzer/classify/signatures/http_signature.ts";
import { bytes, input } from "./_input.ts";

Deno.test("httpSignature() names a request with its Host (port stripped) and User-Agent", () => {
  const m = httpSignature(input(
    "GET /index.html HTTP/1.1\r\nHost: WWW.VK.com:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
  ));
  assert.deepEqual(m, {
    protocol: "http",
    detail: "request",
    domain: "www.vk.com",
    userAgent: "curl/7.88.1",
  });
});

Deno.test("httpSignature() accepts a request line cut by the byte budget", () => {
  const m = httpSignature(input(`POST /upload?x=${"a".repeat(200)}`));
  assert.equal(m?.protocol, "http");
  assert.equal(m?.domain, undefined);
});

Deno.test("httpSignature() takes headers only from complete lines", () => {
  const m = httpSignature(input("GET / HTTP/1.0\r\nUser-Agent: Mozilla/5.0\r\nHost: exa"));
  assert.equal(m?.protocol, "http");
  assert.equal(m?.userAgent, "Mozilla/5.0");
  assert.equal(m?.domain, undefined);
});

Deno.test("httpSignature() names a BitTorrent tracker announce as bittorrent", () => {
  const m = httpSignature(
    input(
      "GET /announce?info_hash=%A9%E4&peer_id=A2-1&port=6881 HTTP/1.1\r\nHost: t.example\r\n\r\n",
    ),
  );
  assert.equal(m?.protocol, "bittorrent");
  assert.equal(m?.detail, "tracker");
});

Deno.test("httpSignature() names a flow whose responder sends a status line", () => {
  assert.equal(httpSignature(input("", "HTTP/1.1 404 Not Found\r\n"))?.protocol, "http");
});

Deno.test("httpSignature() keeps address literals and CONNECT targets apart from domains", () => {
  assert.equal(httpSignature(input("GET / HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n"))?.domain, undefined);
  assert.equal(
    httpSignature(input("CONNECT vk.com:443 HTTP/1.1\r\n\r\n"))?.domain,
    "vk.com",
  );
});

Deno.test("httpSignature() rejects near misses", () => {
  for (
    const fwd of [
      "GETX / HTTP/1.1\r\n\r\n", // unknown method
      "get / HTTP/1.1\r\n\r\n", // methods are case-sensitive
      "GET / HTTP/2.0\r\n\r\n", // not HTTP/1.x
      "GET index.html HTTP/1.1\r\n\r\n", // not an origin-form target
      "GET  / HTTP/1.1\r\n\r\n", // double space
      "GET / HTTP/1.1 extra\r\n\r\n",
      "SSH-2.0-OpenSSH_9.2\r\n",
    ]
  ) assert.equal(httpSignature(input(fwd)), undefined, fwd);
  assert.equal(httpSignature(input("", "HTTP/1.1 20")), undefined);
  assert.equal(httpSignature(input("", "HTTP/1.2 200 OK\r\n")), undefined);
  assert.equal(
    httpSignature(input("GET / HTTP/1.1\r\n\r\n", "", { protocol: 17 })),
    undefined,
    "UDP",
  );
  assert.equal(parseHttpRequest(bytes("GET /\x01 HTTP/1.1\r\n")), undefined, "control byte");
});

Deno.test("httpSignature() names an HTTP/2 prior-knowledge preface, not a look-alike", () => {
  assert.equal(
    httpSignature(input("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04"))?.detail,
    "h2c",
  );
  assert.equal(httpSignature(input("PRI * HTTP/2.0\r\n\r\n")), undefined);
});
