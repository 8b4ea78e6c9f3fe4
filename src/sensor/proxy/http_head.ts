/**
 * Strict HTTP/1.x message heads for the proxy. A proxy that reads a message differently from
 * the server behind it can be made to smuggle a second request inside the first, so anything
 * two parsers could disagree on is refused here: bare CR or LF, folded lines, whitespace before
 * a colon, conflicting or repeated framing headers, transfer codings other than `chunked`.
 * @module
 */

/** One header line as received: the name in its original case, the value trimmed. */
export interface HeaderField {
  name: string;
  /** Lower-cased name, for lookups. */
  lower: string;
  value: string;
}

/** How a message body is delimited. */
export type BodyFraming =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  /** Response only: the body runs until the upstream closes. */
  | { kind: "close" };

/** A parsed request head. */
export interface RequestHead {
  method: string;
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: 0 | 1;
  headers: HeaderField[];
  framing: BodyFraming;
  /** Whether the client wants the connection kept after this exchange. */
  keepAlive: boolean;
  /** `Upgrade: websocket` with `Connection: upgrade` on a GET. */
  websocket: boolean;
  /** Bytes of the head, CRLFCRLF included. */
  length: number;
}

/** A parsed response head. */
export interface ResponseHead {
  minor: 0 | 1;
  status: number;
  reason: string;
  headers: HeaderField[];
  framing: BodyFraming;
  keepAlive: boolean;
  length: number;
}

/** Why a head was refused; the status a client gets for it. */
export class HeadError extends SyntaxError {
  constructor(
    message: string,
    readonly status: 400 | 431 | 501 | 502 | 505,
    readonly reason: string,
  ) {
    super(message);
    this.name = "HeadError";
  }
}

const latin1 = new TextDecoder("latin1");

// RFC 9110 token characters.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values: visible ASCII, obs-text, space and tab; no other control characters.
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
// Request targets: origin-form, absolute-form, authority-form or "*"; no spaces or controls.
const TARGET = /^[\x21-\x7e\x80-\xff]+$/;

/**
 * Index just past the CRLFCRLF that ends a head in `buf[0..end)`, or -1 when it is not there
 * yet. A bare LF ends nothing: it is refused later as a malformed line.
 */
export function headEnd(buf: Uint8Array, end: number, from = 0): number {
  for (let i = Math.max(3, from + 3); i < end; i++) {
    if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) {
      return i + 1;
    }
  }
  return -1;
}

function lines(head: Uint8Array, kind: string): string[] {
  const text = latin1.decode(head);
  // The head ends in CRLFCRLF (headEnd found it); split on CRLF only and refuse any lone CR/LF.
  const parts = text.slice(0, -4).split("\r\n");
  for (const line of parts) {
    if (line.includes("\r") || line.includes("\n")) {
      throw new HeadError(`${kind} head has a bare CR or LF`, 400, "bad_line_ending");
    }
  }
  return parts;
}

function parseFields(parts: string[], kind: string): HeaderField[] {
  const headers: HeaderField[] = [];
  for (let i = 1; i < parts.length; i++) {
    const line = parts[i]!;
    if (line === "") {
      throw new HeadError(`${kind} head has an empty line before its end`, 400, "bad_header");
    }
    if (line[0] === " " || line[0] === "\t") {
      throw new HeadError(`${kind} header line ${i} is folded (obs-fold)`, 400, "obs_fold");
    }
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) {
      throw new HeadError(
        `${kind} header line ${i} has no valid name before ":"`,
        400,
        "bad_header",
      );
    }
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (!VALUE.test(value)) {
      throw new HeadError(`${kind} header "${name}" has a control character`, 400, "bad_header");
    }
    headers.push({ name, lower: name.toLowerCase(), value });
  }
  return headers;
}

/** The comma-separated tokens of every `name` header, lower-cased. */
export function headerTokens(headers: readonly HeaderField[], lower: string): string[] {
  const out: string[] = [];
  for (const h of headers) {
    if (h.lower !== lower) continue;
    for (const t of h.value.split(",")) {
      const token = t.trim().toLowerCase();
      if (token !== "") out.push(token);
    }
  }
  return out;
}

/** The value of the only `lower` header, or undefined; several of them join with ", ". */
export function headerValue(headers: readonly HeaderField[], lower: string): string | undefined {
  let out: string | undefined;
  for (const h of headers) {
    if (h.lower === lower) out = out === undefined ? h.value : `${out}, ${h.value}`;
  }
  return out;
}

/**
 * The framing the headers state. Refused (the smuggling vectors): Transfer-Encoding with
 * Content-Length, any coding list other than exactly `chunked`, Transfer-Encoding in HTTP/1.0,
 * Content-Length that is not one run of digits or that differs between repeats.
 */
function framingOf(headers: HeaderField[], minor: 0 | 1, kind: string): BodyFraming | undefined {
  let te: string[] | undefined;
  let length: string | undefined;
  for (const h of headers) {
    if (h.lower === "transfer-encoding") {
      te ??= [];
      te.push(...h.value.split(",").map((t) => t.trim().toLowerCase()));
    } else if (h.lower === "content-length") {
      if (!/^\d{1,15}$/.test(h.value)) {
        throw new HeadError(
          `${kind} Content-Length "${h.value.slice(0, 40)}" is not a number`,
          400,
          "bad_content_length",
        );
      }
      if (length !== undefined && length !== h.value) {
        throw new HeadError(`${kind} has conflicting Content-Length`, 400, "bad_content_length");
      }
      length = h.value;
    }
  }
  if (te !== undefined) {
    if (length !== undefined) {
      throw new HeadError(
        `${kind} has both Transfer-Encoding and Content-Length`,
        400,
        "te_and_cl",
      );
    }
    if (minor === 0) {
      throw new HeadError(`${kind} HTTP/1.0 with Transfer-Encoding`, 400, "bad_transfer_encoding");
    }
    if (te.length !== 1 || te[0] !== "chunked") {
      throw new HeadError(
        `${kind} Transfer-Encoding "${te.join(", ").slice(0, 40)}" is not chunked`,
        501,
        "bad_transfer_encoding",
      );
    }
    return { kind: "chunked" };
  }
  if (length !== undefined) return { kind: "length", length: Number(length) };
  return undefined;
}

function version(text: string, kind: string): 0 | 1 {
  if (text === "HTTP/1.1") return 1;
  if (text === "HTTP/1.0") return 0;
  throw new HeadError(
    `${kind} version "${text.slice(0, 20)}" is not HTTP/1.0 or 1.1`,
    505,
    "bad_version",
  );
}

function keepAliveOf(headers: HeaderField[], minor: 0 | 1): boolean {
  const connection = headerTokens(headers, "connection");
  if (connection.includes("close")) return false;
  return minor === 1 || connection.includes("keep-alive");
}

/** Parses a request head (`head` ends with CRLFCRLF). Throws {@linkcode HeadError}. */
export function parseRequestHead(head: Uint8Array): RequestHead {
  const parts = lines(head, "request");
  const first = parts[0]!.split(" ");
  if (first.length !== 3) {
    throw new HeadError("request line is not METHOD SP target SP version", 400, "bad_request_line");
  }
  const [method, target, ver] = first as [string, string, string];
  if (!TOKEN.test(method)) throw new HeadError("request method is not a token", 400, "bad_method");
  if (!TARGET.test(target)) {
    throw new HeadError("request target is empty or has a control character", 400, "bad_target");
  }
  const minor = version(ver, "request");
  const headers = parseFields(parts, "request");
  const hosts = headers.filter((h) => h.lower === "host").length;
  if (hosts > 1 || (minor === 1 && hosts === 0)) {
    throw new HeadError(`request has ${hosts} Host headers`, 400, "bad_host");
  }
  const framing = framingOf(headers, minor, "request") ?? { kind: "none" };
  const upgrade = headerTokens(headers, "upgrade");
  const websocket = method === "GET" && minor === 1 && upgrade.includes("websocket") &&
    headerTokens(headers, "connection").includes("upgrade");
  return {
    method,
    target,
    minor,
    headers,
    framing,
    keepAlive: keepAliveOf(headers, minor),
    websocket,
    length: head.length,
  };
}

/**
 * Parses a response head to a request of `method`. A response without framing headers runs
 * until the connection closes, except where it has no body at all (HEAD, 1xx, 204, 304).
 */
export function parseResponseHead(head: Uint8Array, method: string): ResponseHead {
  const parts = lines(head, "response");
  const line = parts[0]!;
  const m = /^(HTTP\/1\.[01]) (\d{3})(?: (.*))?$/.exec(line);
  if (!m) throw new HeadError("upstream status line is malformed", 502, "bad_status_line");
  const minor = version(m[1]!, "upstream");
  const status = Number(m[2]);
  const headers = parseFields(parts, "upstream");
  let framing = framingOf(headers, minor, "upstream");
  if (method === "HEAD" || status < 200 || status === 204 || status === 304) {
    framing = { kind: "none" };
  }
  framing ??= { kind: "close" };
  return {
    minor,
    status,
    reason: m[3] ?? "",
    headers,
    framing,
    keepAlive: framing.kind !== "close" && keepAliveOf(headers, minor),
    length: head.length,
  };
}
