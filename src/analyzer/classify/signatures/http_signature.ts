import { asciiAt, asciiAtIgnoreCase, indexOfLf, isHostName, latin1, printable } from "./_bytes.ts";
import type { SignatureInput, SignatureMatch } from "./signature_match.ts";

const METHODS = [
  "GET",
  "POST",
  "HEAD",
  "PUT",
  "DELETE",
  "OPTIONS",
  "PATCH",
  "CONNECT",
  "TRACE",
  "PROPFIND",
  "PROPPATCH",
  "MKCOL",
  "COPY",
  "MOVE",
  "LOCK",
  "UNLOCK",
  "REPORT",
] as const;

/** A parsed HTTP/1.x request head (as much of it as the first bytes hold). */
export interface HttpRequestHead extends HttpFraming {
  method: string;
  target: string;
  host?: string;
  userAgent?: string;
}

/** How a message's body is delimited, from its header block (RFC 9112 §6). */
export interface HttpFraming {
  /** `Content-Length`, when valid. */
  contentLength?: number;
  /** `Transfer-Encoding` ends in `chunked`. */
  chunked?: boolean;
}

/** A parsed HTTP/1.x status line and the framing of its body. */
export interface HttpResponseHead extends HttpFraming {
  status: number;
}

/** Host header value without port, lower case, or undefined when it is no host name or IP. */
function hostOf(value: string): string | undefined {
  let v = value.trim().toLowerCase();
  if (v.startsWith("[")) {
    return undefined; // IPv6 literal
  }
  const colon = v.indexOf(":");
  if (colon >= 0) v = v.slice(0, colon);
  if (v.endsWith(".")) v = v.slice(0, -1);
  // An address literal names no application.
  if (/^\d+\.\d+\.\d+\.\d+$/.test(v)) return undefined;
  return isHostName(v) ? v : undefined;
}

/**
 * Parses the request line and the complete header lines of an HTTP/1.x request at the start of
 * `buf`. A request line cut by the end of the bytes still counts when what is there is valid.
 */
export function parseHttpRequest(buf: Uint8Array): HttpRequestHead | undefined {
  let method: string | undefined;
  for (const m of METHODS) {
    if (asciiAt(buf, 0, m) && buf[m.length] === 32) {
      method = m;
      break;
    }
  }
  if (method === undefined) return undefined;
  const start = method.length + 1;
  const lf = indexOfLf(buf, start);
  const lineEnd = lf < 0 ? buf.length : (buf[lf - 1] === 13 ? lf - 1 : lf);
  if (lineEnd <= start || !printable(buf, start, lineEnd)) return undefined;
  const line = latin1(buf, start, lineEnd);
  const space = line.lastIndexOf(" ");
  let target: string;
  if (lf >= 0) {
    // A complete request line must end with the HTTP version.
    if (space <= 0 || !/^HTTP\/1\.[01]$/.test(line.slice(space + 1))) return undefined;
    target = line.slice(0, space);
  } else {
    target = space > 0 ? line.slice(0, space) : line;
  }
  if (target.length === 0 || target.includes(" ")) return undefined;
  const originForm = target.startsWith("/") || target === "*" ||
    /^[a-z][a-z0-9+.-]*:\/\//i.test(target);
  if (!originForm && !(method === "CONNECT" && /^[^/]+:\d+$/.test(target))) return undefined;
  const head: HttpRequestHead = { method, target };
  if (lf < 0) return head;
  readHeaders(buf, lf + 1, (pos, end) => {
    if (asciiAtIgnoreCase(buf, pos, "host:")) {
      const host = hostOf(latin1(buf, pos + 5, end));
      if (host !== undefined) head.host = host;
    } else if (asciiAtIgnoreCase(buf, pos, "user-agent:")) {
      head.userAgent = latin1(buf, pos + 11, end).trim();
    } else framingHeader(buf, pos, end, head);
  });
  if (head.host === undefined && method === "CONNECT") {
    const host = hostOf(target);
    if (host !== undefined) head.host = host;
  }
  return head;
}

/** Calls `header(start, end)` for each complete header line after `pos`, up to the blank line. */
function readHeaders(buf: Uint8Array, pos: number, header: (start: number, end: number) => void) {
  for (let n = 0; n < 100; n++) {
    const next = indexOfLf(buf, pos);
    if (next < 0) break;
    const end = next > pos && buf[next - 1] === 13 ? next - 1 : next;
    if (end === pos) break; // blank line: end of the header block
    header(pos, end);
    pos = next + 1;
  }
}

/** Reads `Content-Length` and `Transfer-Encoding` into `into` when the line is one of them. */
function framingHeader(buf: Uint8Array, pos: number, end: number, into: HttpFraming): void {
  if (asciiAtIgnoreCase(buf, pos, "content-length:")) {
    const v = latin1(buf, pos + 15, end).trim();
    if (/^\d{1,15}$/.test(v)) into.contentLength = Number(v);
  } else if (asciiAtIgnoreCase(buf, pos, "transfer-encoding:")) {
    into.chunked = /(^|,)\s*chunked\s*$/i.test(latin1(buf, pos + 18, end));
  }
}

/**
 * Parses the status line and the body framing headers of an HTTP/1.x response at the start of
 * `buf`, or undefined when it does not start with a status line.
 */
export function parseHttpResponse(buf: Uint8Array): HttpResponseHead | undefined {
  if (!isHttpResponse(buf)) return undefined;
  const head: HttpResponseHead = {
    status: (buf[9]! - 48) * 100 + (buf[10]! - 48) * 10 + (buf[11]! - 48),
  };
  const lf = indexOfLf(buf, 12);
  if (lf >= 0) readHeaders(buf, lf + 1, (pos, end) => framingHeader(buf, pos, end, head));
  return head;
}

/** True when `buf` starts with an HTTP/1.x status line (`HTTP/1.1 200 `). */
export function isHttpResponse(buf: Uint8Array): boolean {
  if (!asciiAt(buf, 0, "HTTP/1.") || (buf[7] !== 48 && buf[7] !== 49) || buf[8] !== 32) {
    return false;
  }
  for (let i = 9; i < 12; i++) {
    const c = buf[i];
    if (c === undefined || c < 48 || c > 57) return false;
  }
  return buf.length === 12 || buf[12] === 32 || buf[12] === 13 || buf[12] === 10;
}

/**
 * HTTP/1.x: a request line from the initiator (Host and User-Agent taken from its headers), or a
 * status line from the responder; HTTP/2 cleartext by its connection preface. A tracker announce (`GET /announce?info_hash=…`) is BitTorrent.
 */
export function httpSignature(input: SignatureInput): SignatureMatch | undefined {
  if (input.protocol !== 6) return undefined;
  // HTTP/2 with prior knowledge (h2c) opens with its connection preface.
  if (asciiAt(input.fwd, 0, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")) {
    return { protocol: "http", detail: "h2c" };
  }
  const req = parseHttpRequest(input.fwd);
  if (req !== undefined) {
    const tracker = /^\/(announce|scrape)(\.php)?\?(.*&)?info_hash=/.test(req.target);
    const match: SignatureMatch = tracker
      ? { protocol: "bittorrent", detail: "tracker" }
      : { protocol: "http", detail: "request" };
    if (req.host !== undefined) match.domain = req.host;
    if (req.userAgent !== undefined && req.userAgent !== "") match.userAgent = req.userAgent;
    return match;
  }
  if (isHttpResponse(input.bwd)) {
    return { protocol: "http", detail: "response" };
  }
  return undefined;
}
