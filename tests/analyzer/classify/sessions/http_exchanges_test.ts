import assert from "node:assert/strict";
import { segment } from "./_segment.ts";
import {
  HttpExchanges,
  MAX_DISTINCT,
  OTHER,
} from "../../../../src/analyzer/classify/sessions/http_exchanges.ts";

const enc = new TextEncoder();

const get = (path: string, ua: string, host = "a.test") =>
  `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${ua}\r\nAccept: */*\r\n\r\n`;
const ok = (body: string, status = "200 OK") =>
  `HTTP/1.1 ${status}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

/** Feeds `parts` of one direction as consecutive segments from `seq`. */
function send(h: HttpExchanges, dir: 0 | 1, seq: number, ...parts: string[]): number {
  for (const p of parts) {
    h.feedPacket(dir, segment(p, seq));
    seq += p.length;
  }
  return seq;
}

Deno.test("HttpExchanges counts every request of a keep-alive connection with its agent", () => {
  const h = new HttpExchanges();
  h.feed(0, enc.encode(get("/a?x=1", "one")), false);
  h.feed(1, new Uint8Array(0), false);
  let c = 1000, s = 5000;
  s = send(h, 1, s, ok("hello"));
  for (let i = 0; i < 30; i++) {
    c = send(h, 0, c, get(i % 2 ? "/b" : "/a?page=" + i, i % 3 ? "two" : "one"));
    // A body that looks like a status line must not count as a response.
    s = send(h, 1, s, ok("HTTP/1.1 500 x\r\n\r\n"));
  }
  const sum = h.summary;
  assert.equal(sum.requests, 31);
  assert.equal(sum.responses, 31);
  assert.deepEqual(sum.statuses, new Map([[200, 31]]));
  assert.deepEqual(sum.userAgents, new Map([["one", 11], ["two", 20]]));
  assert.deepEqual(sum.hosts, new Map([["a.test", 31]]));
  assert.deepEqual(sum.urls, new Map([["http://a.test/a", 16], ["http://a.test/b", 15]]));
  assert.equal(sum.gaps, 0);
});

Deno.test("HttpExchanges skips chunked bodies, HEAD responses and splits across segments", () => {
  const h = new HttpExchanges();
  h.feed(0, enc.encode(get("/1", "u") + "HEAD /2 HTTP/1.1\r\nHost: a.test\r\n\r\n"), false);
  h.feed(1, new Uint8Array(0), false);
  const chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "5\r\nGET /\r\n10;ext=1\r\nHTTP/1.1 404 x\r\n\r\n0\r\nTrailer: y\r\n\r\n";
  const head = "HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n"; // HEAD: no body follows
  const all = chunked + head + ok("done", "304 Not Modified").replace("done", "") + ok("x");
  // Cut the response stream at awkward places: inside a chunk size, a CRLF, a header name.
  const cuts = [20, 51, 52, 60, 77, 90, 120, 140, all.length];
  let s = 77, from = 0;
  for (const cut of cuts) {
    s = send(h, 1, s, all.slice(from, cut));
    from = cut;
  }
  send(h, 0, 1, get("/3", "u"), "POST /4 HTTP/1.1\r\nContent-Length: 4\r\n\r\nGET ");
  assert.equal(h.summary.requests, 4);
  assert.deepEqual(h.summary.statuses, new Map([[200, 3], [304, 1]]));
});

Deno.test("HttpExchanges trims retransmissions and resynchronises after a gap", () => {
  const h = new HttpExchanges();
  h.feed(0, enc.encode(get("/1", "u")), false);
  let c = send(h, 0, 100, get("/2", "u"));
  h.feedPacket(0, segment(get("/2", "u"), 100)); // retransmission: not counted again
  const next = get("/3", "u");
  h.feedPacket(0, segment(next.slice(0, 10), c)); // then 10 bytes are lost…
  c += next.length;
  h.feedPacket(0, segment(next.slice(20), c - next.length + 20)); // …this half is skipped
  c = send(h, 0, c, "more body-like bytes\r\n\r\n"); // not a request start: still skipped
  send(h, 0, c, get("/4", "u")); // a packet that starts a request: back in step
  assert.equal(h.summary.requests, 3);
  assert.deepEqual([...h.summary.urls.keys()], ["/1", "/2", "/4"].map((p) => "http://a.test" + p));
  assert.equal(h.summary.gaps, 1, "the loss is counted once, however many packets it skips");
});

Deno.test("HttpExchanges counts values past the distinct bound under (other)", () => {
  const h = new HttpExchanges();
  h.feed(0, new Uint8Array(0), false);
  let c = 1;
  for (let i = 0; i < MAX_DISTINCT + 5; i++) c = send(h, 0, c, get("/p" + i, "agent " + i));
  assert.equal(h.summary.requests, MAX_DISTINCT + 5);
  assert.equal(h.summary.userAgents.size, MAX_DISTINCT + 1);
  assert.equal(h.summary.userAgents.get(OTHER), 5);
  assert.equal(h.summary.urls.get(OTHER), 5);
});

Deno.test("HttpExchanges stops reading at a protocol switch and a truncated first payload", () => {
  const h = new HttpExchanges();
  h.feed(0, enc.encode(get("/ws", "u")), false);
  h.feed(1, enc.encode("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"), false);
  send(h, 1, 1, ok("x")); // tunnel bytes that happen to look like a response: not read
  assert.deepEqual(h.summary.statuses, new Map([[101, 1]]));
  const t = new HttpExchanges();
  t.feed(0, enc.encode("GET /big HTTP/1.1\r\nHost: a.test\r\nCookie: aaaa"), true);
  send(t, 0, 900, "aaaa\r\n\r\n"); // rest of the cut head: skipped
  send(t, 0, 908, get("/next", "u"));
  assert.equal(t.summary.requests, 1);
  assert.equal(t.summary.gaps, 1);
  assert.deepEqual([...t.summary.urls.keys()], ["http://a.test/next"]);
});
