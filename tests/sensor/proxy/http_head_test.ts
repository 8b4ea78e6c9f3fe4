import assert from "node:assert/strict";
import { ConnIo } from "../../../src/sensor/proxy/conn_io.ts";
import {
  headEnd,
  HeadError,
  parseRequestHead,
  parseResponseHead,
} from "../../../src/sensor/proxy/http_head.ts";

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** A socket that hands out `parts` one read each, then EOF. */
function chunked(parts: string[]) {
  const queue = parts.map(bytes);
  return new ConnIo({
    read(p: Uint8Array) {
      const next = queue.shift();
      if (!next) return Promise.resolve(null);
      p.set(next);
      return Promise.resolve(next.length);
    },
    write: (p: Uint8Array) => Promise.resolve(p.length),
    close() {},
  });
}

function refused(head: string, reason: string, status = 400) {
  assert.throws(
    () => parseRequestHead(bytes(head)),
    (e) => e instanceof HeadError && e.reason === reason && e.status === status,
    `${JSON.stringify(head.slice(0, 50))} refused as ${reason}`,
  );
}

Deno.test("parseResponseHead() refuses a status under 100 (fuzz: it passed as an interim response)", () => {
  for (const status of ["000", "099", "042"]) {
    assert.throws(
      () => parseResponseHead(bytes(`HTTP/1.1 ${status} OK\r\nExpect: 0\r\n\r\n`), "GET"),
      (e) => e instanceof HeadError && e.reason === "bad_status_line" && e.status === 502,
    );
  }
  assert.equal(parseResponseHead(bytes("HTTP/1.1 100 Continue\r\n\r\n"), "GET").status, 100);
});

Deno.test("parseRequestHead() refuses what nginx 1.22 refuses", () => {
  refused(
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
    "bad_content_length",
  );
  refused(`GET / HTTP/1.1\r\nHost: x\r\nX: ${"a".repeat(8190)}\r\n\r\n`, "line_too_long", 431);
  refused(`GET /${"a".repeat(8190)} HTTP/1.1\r\nHost: x\r\n\r\n`, "line_too_long", 414);
  refused("GET / HTTP/1.1\r\nHost: a..b\r\n\r\n", "bad_host");
  refused("GET / HTTP/1.1\r\nHost:\r\n\r\n", "bad_host");
  refused("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", "bad_host");
  refused("get / HTTP/1.1\r\nHost: x\r\n\r\n", "bad_method");
  refused("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", "bad_request_line");
  refused("GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", "bad_line_ending");
});

Deno.test("parseRequestHead() accepts what nginx 1.22 accepts and the rewrite makes plain", () => {
  const lf = parseRequestHead(bytes("GET  /a  HTTP/1.1 \nHost: [::1]:80\nX: y\n\n"));
  assert.equal(lf.target, "/a");
  assert.deepEqual(lf.headers.map((h) => h.value), ["[::1]:80", "y"]);
  assert.equal(parseRequestHead(bytes("GET / HTTP/1.2\r\nHost: x.\r\n\r\n")).minor, 1);
  assert.equal(parseRequestHead(bytes("M-SEARCH * HTTP/1.0\r\n\r\n")).minor, 0);
});

Deno.test("headEnd() and readHead() find a head ended by LF LF, CRLF LF or CRLF CRLF across reads", async () => {
  assert.equal(headEnd(bytes("GET / HTTP/1.0\n\nrest"), 20), 16);
  assert.equal(headEnd(bytes("GET / HTTP/1.0\r\n\nrest"), 21), 17);
  assert.equal(headEnd(bytes("GET / HTTP/1.0\r\nX: y\r\n"), 22), -1);
  // A head starting after another: the previous LF is not part of it.
  const two = bytes("A\n\n\r\nB");
  assert.equal(headEnd(two, two.length, 3, 3), -1);
  for (const parts of [["GET / HTTP/1.0\r", "\n", "\r", "\nX"], ["GET / HTTP/1.0\n", "\n"]]) {
    const io = chunked(parts);
    const head = await io.readHead(1024);
    assert.equal(new TextDecoder().decode(head!).trimEnd(), "GET / HTTP/1.0");
  }
});
