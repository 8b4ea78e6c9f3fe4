/**
 * Fuzz target: the proxy's HTTP/1.x head parser (`headEnd`, `ConnIo.readHead`,
 * `parseRequestHead`, `parseResponseHead`). Inputs are heads built from the grammar with the
 * smuggler's tokens (CR, LF, NUL, folds, repeated and conflicting framing headers, long
 * lines), mutated. Properties: only `HeadError` is thrown; `readHead` over a socket that hands
 * the bytes out in random chunks finds the same head as one scan of the whole buffer; an
 * accepted request has token names, values free of CR/LF/NUL, at most one Host (exactly one in
 * 1.1) and one framing, with the framing its headers state; the head the proxy sends upstream
 * (rewritten with CRLF) parses back to the same request. An accepted response has a 3-digit
 * status and no body where none is allowed.
 * @module
 */

import { ConnIo } from "../../src/sensor/proxy/conn_io.ts";
import {
  headEnd,
  HeadError,
  MAX_LINE,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
} from "../../src/sensor/proxy/http_head.ts";
import { MemoryConn } from "./_memory_conn.ts";
import { mutateBytes } from "./_mutate.ts";
import type { Rng } from "./_random.ts";
import { documentedError, type FuzzTarget, property, PropertyError } from "./_target.ts";

/** Selector bits: a response head (else a request); readHead's limit (2 bits). */
const RESPONSE = 0x01;
const LIMITS = [64, 512, 8192, 65536] as const;
const latin1 = new TextDecoder("latin1");
function bytesOf(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

const METHODS = ["GET", "POST", "HEAD", "PUT", "OPTIONS", "M-SEARCH", "get", "GET1", "", "G T"];
const TARGETS = [
  "/",
  "/a?b=c",
  "*",
  "http://x/",
  "/a b",
  "/\x00",
  "/%00",
  "a",
  "/" + "a".repeat(300),
];
const VERSIONS = [
  "HTTP/1.1",
  "HTTP/1.0",
  "HTTP/1.2",
  "HTTP/2.0",
  "http/1.1",
  "HTTP/1.01",
  "HTTP/1.",
];
const STATUSES = [
  "200 OK",
  "204 No Content",
  "101 Switching",
  "100 Continue",
  "304 x",
  "99 x",
  "200",
];
const NAMES = [
  "Host",
  "Content-Length",
  "Transfer-Encoding",
  "Connection",
  "Upgrade",
  "Expect",
  "X-Forwarded-For",
  "Cookie",
  "content-length",
  "TRANSFER-ENCODING",
  "Content-Length ",
  " Host",
  "X\x00Y",
  "",
];
const VALUES = [
  "example.test",
  "0",
  "5",
  "005",
  "-1",
  "+5",
  "5, 5",
  "99999999999999999999",
  "chunked",
  "Chunked",
  "gzip, chunked",
  "chunked, gzip",
  " chunked ",
  "\x0bchunked",
  "keep-alive",
  "close",
  "upgrade",
  "websocket",
  "100-continue",
  "a\x00b",
  "a\rb",
  "caf\xe9",
  "a..b",
  "[::1]:80",
  "a b",
  "",
];
const ENDS = ["\r\n", "\r\n", "\r\n", "\n", "\r", "\r\r\n", "\n\r"];
/** Bytes a smuggler splices in anywhere. */
const TOKENS = [
  "\r\n",
  "\n",
  "\r",
  "\x00",
  " ",
  "\t",
  ":",
  "\r\n ",
  "\r\n\t",
  "\r\n\r\n",
  "\n\n",
  "Content-Length: 5\r\n",
  "Transfer-Encoding: chunked\r\n",
  "Host: x\r\n",
  ",",
  "HTTP/1.1",
];

function generateHead(rng: Rng, response: boolean): string {
  const end = () => (rng.chance(0.9) ? "\r\n" : rng.pick(ENDS));
  let head = response
    ? `${rng.chance(0.9) ? "HTTP/1.1" : rng.pick(VERSIONS)} ${rng.pick(STATUSES)}${end()}`
    : `${rng.chance(0.8) ? "GET" : rng.pick(METHODS)} ${
      rng.chance(0.7) ? "/" : rng.pick(TARGETS)
    } ` +
      `${rng.chance(0.8) ? "HTTP/1.1" : rng.pick(VERSIONS)}${end()}`;
  if (!response && rng.chance(0.9)) head += `Host: example.test${end()}`;
  const n = rng.below(6);
  for (let i = 0; i < n; i++) {
    const name = rng.chance(0.7) ? rng.pick(NAMES.slice(0, 8)) : rng.pick(NAMES);
    const value = rng.chance(0.1)
      ? "v".repeat(rng.pick([100, MAX_LINE - 10, MAX_LINE]))
      : rng.pick(VALUES);
    head += `${name}:${rng.chance(0.8) ? " " : rng.pick(["", "  ", "\t"])}${value}${end()}`;
  }
  return head + (rng.chance(0.9) ? "\r\n" : rng.pick(ENDS));
}

function splice(text: string, rng: Rng): string {
  const ops = 1 + rng.below(3);
  let t = text;
  for (let k = 0; k < ops; k++) {
    const at = rng.below(t.length + 1);
    if (rng.chance(0.6)) t = t.slice(0, at) + rng.pick(TOKENS) + t.slice(at);
    else t = t.slice(0, at) + t.slice(at + 1 + rng.below(4));
  }
  return t;
}

/** The request head as the proxy rewrites it for the upstream: CRLF lines, fields as parsed. */
function rewritten(h: RequestHead): Uint8Array {
  let out = `${h.method} ${h.target} HTTP/1.${h.minor}\r\n`;
  for (const f of h.headers) out += `${f.name}: ${f.value}\r\n`;
  return bytesOf(`${out}\r\n`);
}

function sameRequest(a: RequestHead, b: RequestHead): boolean {
  const view = (h: RequestHead) =>
    JSON.stringify([
      h.method,
      h.target,
      h.minor,
      h.headers.map((f) => [f.name, f.value]),
      h.framing,
      h.keepAlive,
      h.websocket,
    ]);
  return view(a) === view(b);
}

function checkRequest(h: RequestHead, head: Uint8Array): void {
  property(h.length === head.length, `length ${h.length} for a ${head.length}-byte head`);
  property(/^[A-Z_-]+$/.test(h.method), () => `accepted method ${JSON.stringify(h.method)}`);
  property(/^[\x21-\x7e\x80-\xff]+$/.test(h.target), "accepted a target with a space or control");
  let hosts = 0;
  let lengths = 0;
  let codings = 0;
  for (const f of h.headers) {
    property(
      /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(f.name),
      () => `header name ${JSON.stringify(f.name)}`,
    );
    property(f.lower === f.name.toLowerCase(), "lower is not the name in lower case");
    property(
      !["\r", "\n", "\0"].some((c) => f.value.includes(c)),
      () => `value ${JSON.stringify(f.value)} has CR, LF or NUL`,
    );
    property(!/^[ \t]|[ \t]$/.test(f.value), "value not trimmed");
    if (f.lower === "host") hosts++;
    if (f.lower === "content-length") lengths++;
    if (f.lower === "transfer-encoding") codings++;
  }
  property(hosts <= 1 && (h.minor === 0 || hosts === 1), `${hosts} Host headers accepted`);
  property(lengths <= 1, `${lengths} Content-Length headers accepted`);
  property(!(lengths > 0 && codings > 0), "Content-Length and Transfer-Encoding accepted");
  if (codings > 0) {
    property(
      h.framing.kind === "chunked" && h.minor === 1,
      "Transfer-Encoding not read as chunked",
    );
  } else if (lengths > 0) {
    const value = h.headers.find((f) => f.lower === "content-length")!.value;
    property(
      h.framing.kind === "length" && h.framing.length === Number(value) && /^\d+$/.test(value),
      () => `Content-Length ${JSON.stringify(value)} read as ${JSON.stringify(h.framing)}`,
    );
  } else property(h.framing.kind === "none", "framing without a framing header");
  // What goes upstream reads back the same: no second reading of the request is possible.
  const again = rewritten(h);
  property(headEnd(again, again.length) === again.length, "the rewritten head ends early");
  let back: RequestHead;
  try {
    back = parseRequestHead(again);
  } catch (error) {
    // "Name:value" received is written "Name: value": one byte more may pass the line limit.
    if (error instanceof HeadError && error.reason === "line_too_long") return;
    throw new PropertyError("the rewritten head is refused", { cause: error });
  }
  property(sameRequest(h, back), "the rewritten head parses differently");
}

/** `readHead` over chunked reads: the same head as one scan, or the documented errors. */
async function checkReadHead(bytes: Uint8Array, max: number): Promise<void> {
  const whole = headEnd(bytes, bytes.length);
  const io = new ConnIo(new MemoryConn(bytes) as unknown as Deno.Conn);
  let got: Uint8Array | null | HeadError;
  try {
    got = await io.readHead(max);
  } catch (error) {
    if (!(error instanceof HeadError)) throw error;
    got = error;
  }
  if (whole < 0) {
    property(
      got === null ? bytes.length === 0 : got instanceof HeadError,
      "readHead found a head one scan does not",
    );
    return;
  }
  if (got instanceof HeadError) {
    // Refused for size: the head, or the bytes read while looking for it, passed `max`.
    property(got.status === 431, () => `readHead threw ${got} for a ${whole}-byte head`);
    property(whole > max, `431 for a ${whole}-byte head under ${max}`);
    return;
  }
  property(got !== null, "readHead saw no head");
  property(
    got.length === whole && got.every((b, i) => b === bytes[i]),
    () => `readHead took ${got!.length} bytes, one scan ${whole}`,
  );
}

/** The HTTP head target. */
export function httpTarget(): FuzzTarget {
  const kinds: Record<string, number> = {
    request: 0,
    response: 0,
    accepted: 0,
    refused: 0,
    no_end: 0,
  };
  return {
    name: "http",
    kinds,
    generate(rng) {
      const response = rng.chance(0.25);
      const selector = (response ? RESPONSE : 0) | (rng.below(4) << 1);
      let head: Uint8Array = bytesOf(generateHead(rng, response));
      const mode = rng.below(10);
      if (mode < 5) head = bytesOf(splice(latin1.decode(head), rng));
      else if (mode < 8) head = mutateBytes(head, rng, 3);
      const input = new Uint8Array(1 + head.length);
      input[0] = selector;
      input.set(head, 1);
      return input;
    },
    async check(input) {
      const selector = input[0]!;
      const bytes = input.subarray(1);
      const response = (selector & RESPONSE) !== 0;
      kinds[response ? "response" : "request"]!++;
      await checkReadHead(bytes, LIMITS[(selector >> 1) & 3]!);
      const end = headEnd(bytes, bytes.length);
      if (end < 0) {
        kinds.no_end!++;
        return;
      }
      const head = bytes.slice(0, end);
      try {
        if (response) {
          const method = selector & 0x08 ? "HEAD" : "GET";
          const r = parseResponseHead(head, method);
          property(r.status >= 100 && r.status <= 999, `status ${r.status}`);
          if (method === "HEAD" || r.status < 200 || r.status === 204 || r.status === 304) {
            property(r.framing.kind === "none", `a body framed for status ${r.status}`);
          }
          property(
            !(r.keepAlive && r.framing.kind === "close"),
            "keep-alive on a close-framed body",
          );
        } else checkRequest(parseRequestHead(head), head);
        kinds.accepted!++;
      } catch (error) {
        if (error instanceof PropertyError) throw error;
        if (!documentedError(error, [HeadError])) throw error;
        kinds.refused!++;
      }
    },
  };
}
