/**
 * Request heads a smuggler or a broken client sends, for the differential test against nginx
 * (http_head_nginx_test.ts) and as seeds of the `http` fuzz target's corpus.
 * @module
 */

/** One hostile (or plain) request: its bytes and what qts decides about it. */
export interface HostileHead {
  name: string;
  bytes: string;
  /**
   * `same`: qts accepts or refuses it as nginx 1.22 does. `stricter`: nginx accepts it and
   * qts refuses it on purpose (`why`); qts never accepts what nginx refuses.
   */
  decision: "same" | "stricter";
  why?: string;
}

const H = "Host: example.test\r\n";

/** The corpus. Bodies are absent or complete, so both servers can answer at once. */
export const HOSTILE_HEADS: readonly HostileHead[] = [
  { name: "plain GET", bytes: `GET / HTTP/1.1\r\n${H}\r\n`, decision: "same" },
  { name: "plain HTTP/1.0 GET, no Host", bytes: `GET / HTTP/1.0\r\n\r\n`, decision: "same" },
  {
    name: "POST with Content-Length",
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc`,
    decision: "same",
  },
  {
    name: "chunked POST",
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    decision: "same",
  },
  {
    name: "bare LF line endings",
    bytes: `GET / HTTP/1.1\n${H.replace("\r\n", "\n")}\n`,
    decision: "same",
  },
  { name: "bare LF after the request line", bytes: `GET / HTTP/1.1\n${H}\r\n`, decision: "same" },
  { name: "bare LF ending the head", bytes: `GET / HTTP/1.1\r\n${H}\n`, decision: "same" },
  {
    name: "bare CR inside a header line",
    bytes: `GET / HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n`,
    decision: "same",
  },
  {
    name: "bare CR ending a header line",
    bytes: `GET / HTTP/1.1\r\nX-A: a\r${H}\r\n`,
    decision: "same",
  },
  {
    name: "obs-fold continuation line",
    bytes: `GET / HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n`,
    decision: "same",
  },
  {
    name: "obs-fold right after the request line",
    bytes: `GET / HTTP/1.1\r\n ${H}\r\n`,
    decision: "same",
  },
  {
    name: "Content-Length and Transfer-Encoding",
    bytes:
      `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    decision: "same",
  },
  {
    name: "Transfer-Encoding and Content-Length",
    bytes:
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n`,
    decision: "same",
  },
  {
    name: "duplicate equal Content-Length",
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc`,
    decision: "same",
  },
  {
    name: "conflicting Content-Length",
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`,
    decision: "same",
  },
  {
    name: "Content-Length list",
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 3, 3\r\n\r\nabc`,
    decision: "same",
  },
  {
    name: "Content-Length with a sign",
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: +3\r\n\r\nabc`,
    decision: "same",
  },
  {
    name: "negative Content-Length",
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`,
    decision: "same",
  },
  {
    name: "Content-Length past 2^63",
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999\r\n\r\n`,
    decision: "same",
  },
  {
    name: "Content-Length with leading zeros",
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 003\r\n\r\nabc`,
    decision: "same",
  },
  {
    name: "Content-Length in hex",
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 0x3\r\n\r\nabc`,
    decision: "same",
  },
  {
    name: "space before the colon",
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length : 3\r\n\r\nabc`,
    decision: "same",
  },
  {
    name: "tab before the colon",
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length\t: 3\r\n\r\nabc`,
    decision: "same",
  },
  {
    name: "space inside a header name",
    bytes: `GET / HTTP/1.1\r\n${H}X A: b\r\n\r\n`,
    decision: "same",
  },
  { name: "empty header name", bytes: `GET / HTTP/1.1\r\n${H}: b\r\n\r\n`, decision: "same" },
  {
    name: "Transfer-Encoding gzip, chunked",
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
    decision: "same",
  },
  {
    name: "Transfer-Encoding chunked, gzip",
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n`,
    decision: "same",
  },
  {
    name: "Transfer-Encoding xchunked",
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`,
    decision: "same",
  },
  {
    name: "Transfer-Encoding Chunked in capitals",
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n`,
    decision: "same",
  },
  {
    name: "Transfer-Encoding twice",
    bytes:
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    decision: "same",
  },
  {
    name: "Transfer-Encoding chunked then identity",
    bytes:
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n`,
    decision: "same",
  },
  {
    name: "Transfer-Encoding in HTTP/1.0",
    bytes: `POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    decision: "same",
  },
  {
    name: "Transfer-Encoding with a vertical tab",
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n`,
    decision: "same",
  },
  {
    name: "NUL in a header value",
    bytes: `GET / HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n`,
    decision: "same",
  },
  {
    name: "NUL in a header name",
    bytes: `GET / HTTP/1.1\r\n${H}X-\x00A: b\r\n\r\n`,
    decision: "same",
  },
  { name: "NUL in the target", bytes: `GET /a\x00b HTTP/1.1\r\n${H}\r\n`, decision: "same" },
  {
    name: "control character in a value",
    bytes: `GET / HTTP/1.1\r\n${H}X-A: a\x01b\r\n\r\n`,
    decision: "stricter",
    why:
      "RFC 9110 §5.5: no control characters in field values; the upstream may read them otherwise",
  },
  {
    name: "DEL in a value",
    bytes: `GET / HTTP/1.1\r\n${H}X-A: a\x7fb\r\n\r\n`,
    decision: "stricter",
    why: "RFC 9110 §5.5: DEL is a control character",
  },
  {
    name: "obs-text in a value",
    bytes: `GET / HTTP/1.1\r\n${H}X-A: caf\xe9\r\n\r\n`,
    decision: "same",
  },
  {
    name: "header line over 8 KB",
    bytes: `GET / HTTP/1.1\r\n${H}X-A: ${"a".repeat(9000)}\r\n\r\n`,
    decision: "same",
  },
  {
    name: "head over 32 KB in many lines",
    bytes: `GET / HTTP/1.1\r\n${H}${
      "X-A: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(700)
    }\r\n`,
    decision: "same",
  },
  {
    name: "request line over 8 KB",
    bytes: `GET /${"a".repeat(9000)} HTTP/1.1\r\n${H}\r\n`,
    decision: "same",
  },
  { name: "HTTP/1.1 without Host", bytes: `GET / HTTP/1.1\r\n\r\n`, decision: "same" },
  { name: "two Host headers", bytes: `GET / HTTP/1.1\r\n${H}${H}\r\n`, decision: "same" },
  { name: "Host with a space", bytes: `GET / HTTP/1.1\r\nHost: a b\r\n\r\n`, decision: "same" },
  { name: "Host with a slash", bytes: `GET / HTTP/1.1\r\nHost: a/b\r\n\r\n`, decision: "same" },
  { name: "HTTP/2.0 request line", bytes: `GET / HTTP/2.0\r\n${H}\r\n`, decision: "same" },
  { name: "HTTP/1.2 request line", bytes: `GET / HTTP/1.2\r\n${H}\r\n`, decision: "same" },
  { name: "lower-case version", bytes: `GET / http/1.1\r\n${H}\r\n`, decision: "same" },
  { name: "lower-case method", bytes: `get / HTTP/1.1\r\n${H}\r\n`, decision: "same" },
  { name: "method with a digit", bytes: `GET1 / HTTP/1.1\r\n${H}\r\n`, decision: "same" },
  { name: "two spaces after the method", bytes: `GET  / HTTP/1.1\r\n${H}\r\n`, decision: "same" },
  { name: "tab between method and target", bytes: `GET\t/ HTTP/1.1\r\n${H}\r\n`, decision: "same" },
  {
    name: "space at the end of the request line",
    bytes: `GET / HTTP/1.1 \r\n${H}\r\n`,
    decision: "same",
  },
  {
    name: "absolute-form target",
    bytes: `GET http://example.test/ HTTP/1.1\r\n${H}\r\n`,
    decision: "same",
  },
  { name: "target not starting with /", bytes: `GET a/b HTTP/1.1\r\n${H}\r\n`, decision: "same" },
  {
    name: "HTTP/0.9 request line",
    bytes: `GET /\r\n\r\n`,
    decision: "stricter",
    why: "HTTP/0.9 has no headers to observe and no framing; not proxied",
  },
  {
    name: "empty line before the request line",
    bytes: `\r\nGET / HTTP/1.1\r\n${H}\r\n`,
    decision: "same",
  },
  { name: "space inside the target", bytes: `GET /a b HTTP/1.1\r\n${H}\r\n`, decision: "same" },
  { name: "empty Host", bytes: `GET / HTTP/1.1\r\nHost:\r\n\r\n`, decision: "same" },
  {
    name: "Host with a port",
    bytes: `GET / HTTP/1.1\r\nHost: example.test:8080\r\n\r\n`,
    decision: "same",
  },
  {
    name: "Host as an IPv6 literal",
    bytes: `GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n`,
    decision: "same",
  },
  { name: "Host with two dots", bytes: `GET / HTTP/1.1\r\nHost: a..b\r\n\r\n`, decision: "same" },
  {
    name: "Host with a backslash",
    bytes: `GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n`,
    decision: "same",
  },
  {
    name: "Host with a trailing dot",
    bytes: `GET / HTTP/1.1\r\nHost: example.test.\r\n\r\n`,
    decision: "same",
  },
  {
    name: "Host with an underscore",
    bytes: `GET / HTTP/1.1\r\nHost: a_b.test\r\n\r\n`,
    decision: "same",
  },
  { name: "method with a dash", bytes: `M-SEARCH / HTTP/1.1\r\n${H}\r\n`, decision: "same" },
  { name: "method with an underscore", bytes: `A_B / HTTP/1.1\r\n${H}\r\n`, decision: "same" },
  { name: "HTTP/1.01 request line", bytes: `GET / HTTP/1.01\r\n${H}\r\n`, decision: "same" },
  { name: "HTTP/1.100 request line", bytes: `GET / HTTP/1.100\r\n${H}\r\n`, decision: "same" },
  {
    name: "CR LF CR LF before the request line",
    bytes: `\r\n\r\nGET / HTTP/1.1\r\n${H}\r\n`,
    decision: "same",
  },
  {
    name: "header line of 8 KB with its CRLF",
    bytes: `GET / HTTP/1.1\r\n${H}X-A: ${"a".repeat(8192 - 7)}\r\n\r\n`,
    decision: "same",
  },
  {
    name: "header line of exactly 8 KB",
    bytes: `GET / HTTP/1.1\r\n${H}X-A: ${"a".repeat(8192 - 5)}\r\n\r\n`,
    decision: "same",
  },
  {
    name: "whitespace-only value",
    bytes: `GET / HTTP/1.1\r\n${H}X-A:   \r\n\r\n`,
    decision: "same",
  },
  {
    name: "Content-Length with trailing space",
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 3 \r\n\r\nabc`,
    decision: "same",
  },
  {
    name: "Content-Length empty",
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length:\r\n\r\n`,
    decision: "same",
  },
];
