/**
 * Strict HTTP/1.x message heads for the proxy. A proxy that reads a message differently from
 * the server behind it can be made to smuggle a second request inside the first, so anything
 * two parsers could disagree on is refused here: bare CR, folded lines, whitespace before a
 * colon, repeated framing headers, transfer codings other than `chunked`. What nginx 1.22
 * refuses is refused too (tests/sensor/proxy/http_head_nginx_test.ts runs both on one corpus);
 * what it tolerates and the head is rewritten anyway (bare LF line ends, several spaces in the
 * request line, HTTP/1.x minors above 1) is accepted, since the upstream only sees our CRLF head.
 * @module
 */

/**
 * One header line as received: the name in its original case, the value trimmed. Its strings
 * are made on first use from the head's bytes (a proxied request needs few of them), and
 * {@linkcode HeaderField.is} compares a name without making one.
 */
export class HeaderField {
  readonly #raw: Uint8Array;
  /** Byte offsets in the head: the line's start, its colon, its trimmed value. */
  readonly from: number;
  readonly colon: number;
  readonly valueFrom: number;
  readonly to: number;
  #name: string | undefined;
  #lower: string | undefined;
  #value: string | undefined;

  constructor(raw: Uint8Array, from: number, colon: number, valueFrom: number, to: number) {
    this.#raw = raw;
    this.from = from;
    this.colon = colon;
    this.valueFrom = valueFrom;
    this.to = to;
  }

  get name(): string {
    return this.#name ??= latin1(this.#raw.subarray(this.from, this.colon));
  }

  /** Lower-cased name, for lookups. */
  get lower(): string {
    return this.#lower ??= this.name.toLowerCase();
  }

  get value(): string {
    return this.#value ??= latin1(this.#raw.subarray(this.valueFrom, this.to));
  }

  /** Whether the name is `lower` (given in lower case), compared on the bytes. */
  is(lower: string): boolean {
    if (this.colon - this.from !== lower.length) return false;
    const raw = this.#raw;
    for (let i = 0, at = this.from; i < lower.length; i++, at++) {
      const c = raw[at]!;
      if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== lower.charCodeAt(i)) return false;
    }
    return true;
  }

  /** Whether the name is one of `names` (lower case). */
  isAny(names: readonly string[]): boolean {
    for (const name of names) if (this.is(name)) return true;
    return false;
  }
}

/** How a message body is delimited. */
export type BodyFraming =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  /** Response only: the body runs until the upstream closes. */
  | { kind: "close" };

// The framings without a length, shared (read only) rather than made per message.
const NO_BODY: BodyFraming = Object.freeze({ kind: "none" });
const CHUNKED: BodyFraming = Object.freeze({ kind: "chunked" });
const TO_CLOSE: BodyFraming = Object.freeze({ kind: "close" });

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
  /** The Connection header's tokens, lower-cased (the hop-by-hop headers it names). */
  connection: string[];
  /** Bytes of the head, CRLFCRLF included. */
  length: number;
  /** The head's bytes, which {@linkcode HeaderField} offsets point into. */
  raw: Uint8Array;
}

/** A parsed response head. */
export interface ResponseHead {
  minor: 0 | 1;
  status: number;
  reason: string;
  headers: HeaderField[];
  framing: BodyFraming;
  keepAlive: boolean;
  connection: string[];
  length: number;
  raw: Uint8Array;
}

/** Why a head was refused; the status a client gets for it. */
export class HeadError extends SyntaxError {
  constructor(
    message: string,
    readonly status: 400 | 414 | 431 | 501 | 502 | 505,
    readonly reason: string,
  ) {
    super(message);
    this.name = "HeadError";
  }
}

// Byte classes (RFC 9110): token characters, and what a field value may hold (visible ASCII,
// obs-text, space and tab; no other control character).
const TOKEN_BYTE = new Uint8Array(256);
const VALUE_BYTE = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  TOKEN_BYTE[c] = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(String.fromCharCode(c)) ? 1 : 0;
  VALUE_BYTE[c] = c === 9 || (c >= 0x20 && c !== 0x7f) ? 1 : 0;
}
// Request targets: origin-form, absolute-form, authority-form or "*"; no spaces or controls.
const TARGET = /^[\x21-\x7e\x80-\xff]+$/;
// Request methods as nginx takes them (it refuses lower case and digits, which RFC tokens allow).
const METHOD = /^[A-Z_-]+$/;
/** The longest line of a head, its line end included: nginx's default large header buffer. */
export const MAX_LINE = 8192;

/**
 * Index just past the empty line that ends a head starting at `start` in `buf[start..end)`,
 * or -1 when it is not there yet; the search resumes at `from` (bytes before it were scanned).
 * Lines end in CRLF or, as nginx also takes them, a bare LF; a bare CR is refused later.
 */
export function headEnd(buf: Uint8Array, end: number, from = 0, start = 0): number {
  for (let i = Math.max(from, start + 1); i < end; i++) {
    if (buf[i] !== 10) continue;
    const prev = buf[i - 1];
    if (prev === 10 || (prev === 13 && i - 2 >= start && buf[i - 2] === 10)) return i + 1;
  }
  return -1;
}

/**
 * Head bytes as text, one character a byte (ISO-8859-1), so a value written back byte by byte
 * is the value received.
 */
function latin1(head: Uint8Array): string {
  const step = 8192;
  if (head.length <= step) return String.fromCharCode.apply(null, head as unknown as number[]);
  let out = "";
  for (let i = 0; i < head.length; i += step) {
    out += String.fromCharCode.apply(null, head.subarray(i, i + step) as unknown as number[]);
  }
  return out;
}

/**
 * The head's lines as [start, end) byte pairs, line ends and the closing empty line left out.
 * Lines end in CRLF or LF, never CR alone.
 */
function lines(head: Uint8Array, kind: string): number[] {
  // Drop the empty line that closes the head (headEnd found it): \r?\n\r?\n at the end.
  let stop = head.length;
  if (stop > 0 && head[stop - 1] === 10) {
    stop--;
    if (stop > 0 && head[stop - 1] === 13) stop--;
    if (stop > 0 && head[stop - 1] === 10) {
      stop--;
      if (stop > 0 && head[stop - 1] === 13) stop--;
    }
  }
  const out: number[] = [];
  let start = 0;
  for (;;) {
    // One pass a line: where it ends, and any CR inside it (a CR is only allowed before LF).
    let i = start;
    let cr = -1;
    while (i < stop && head[i] !== 10) {
      if (head[i] === 13 && cr < 0) cr = i;
      i++;
    }
    let end = i;
    if (i < stop && end > start && head[end - 1] === 13) end--;
    if (cr >= 0 && cr < end) {
      throw new HeadError(`${kind} head has a bare CR`, 400, "bad_line_ending");
    }
    if (end - start + 2 > MAX_LINE) {
      throw out.length === 0
        ? new HeadError(`${kind} line is longer than ${MAX_LINE} bytes`, 414, "line_too_long")
        : new HeadError(
          `${kind} header line ${out.length / 2} is longer than ${MAX_LINE} bytes`,
          431,
          "line_too_long",
        );
    }
    out.push(start, end);
    if (i >= stop) return out;
    start = i + 1;
  }
}

/**
 * Whether a Host value is one nginx takes (ngx_http_validate_host): not empty, no `/`, space
 * or control character, no empty label (`a..b`); a trailing dot and a port are allowed.
 */
function validHost(host: string): boolean {
  let dot = -2;
  let end = host.length;
  // 0: name, 1: inside an IPv6 literal, 2: past the name (port).
  let state = 0;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c === 0x2e) {
      if (dot === i - 1) return false;
      dot = i;
    } else if (c === 0x3a) {
      if (state === 0) {
        end = i;
        state = 2;
      }
    } else if (c === 0x5b) {
      if (i === 0) state = 1;
    } else if (c === 0x5d) {
      if (state === 1) {
        end = i + 1;
        state = 2;
      }
    } else if (c === 0x2f || c <= 0x20 || c === 0x7f) return false;
  }
  if (dot === end - 1) end--;
  return end > 0;
}

function parseFields(head: Uint8Array, at: number[], kind: string): HeaderField[] {
  const headers: HeaderField[] = [];
  for (let k = 2; k < at.length; k += 2) {
    const i = k / 2;
    const from = at[k]!;
    const end = at[k + 1]!;
    if (from === end) {
      throw new HeadError(`${kind} head has an empty line before its end`, 400, "bad_header");
    }
    if (head[from] === 32 || head[from] === 9) {
      throw new HeadError(`${kind} header line ${i} is folded (obs-fold)`, 400, "obs_fold");
    }
    let colon = from;
    while (colon < end && TOKEN_BYTE[head[colon]!] === 1) colon++;
    if (colon === from || colon === end || head[colon] !== 58) {
      throw new HeadError(
        `${kind} header line ${i} has no valid name before ":"`,
        400,
        "bad_header",
      );
    }
    let vs = colon + 1;
    let ve = end;
    while (vs < ve && (head[vs] === 32 || head[vs] === 9)) vs++;
    while (ve > vs && (head[ve - 1] === 32 || head[ve - 1] === 9)) ve--;
    const field = new HeaderField(head, from, colon, vs, ve);
    for (let j = vs; j < ve; j++) {
      if (VALUE_BYTE[head[j]!] === 0) {
        throw new HeadError(
          `${kind} header "${field.name}" has a control character`,
          400,
          "bad_header",
        );
      }
    }
    headers.push(field);
  }
  return headers;
}

/** The comma-separated tokens of every `name` header, lower-cased. */
export function headerTokens(headers: readonly HeaderField[], lower: string): string[] {
  const out: string[] = [];
  for (const h of headers) {
    if (!h.is(lower)) continue;
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
    if (h.is(lower)) out = out === undefined ? h.value : `${out}, ${h.value}`;
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
    if (h.is("transfer-encoding")) {
      te ??= [];
      te.push(...h.value.split(",").map((t) => t.trim().toLowerCase()));
    } else if (h.is("content-length")) {
      // nginx refuses a repeated Content-Length even when the values agree.
      if (length !== undefined) {
        throw new HeadError(`${kind} has more than one Content-Length`, 400, "bad_content_length");
      }
      if (!/^\d{1,15}$/.test(h.value)) {
        throw new HeadError(
          `${kind} Content-Length "${h.value.slice(0, 40)}" is not a number`,
          400,
          "bad_content_length",
        );
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
    return CHUNKED;
  }
  if (length !== undefined) return { kind: "length", length: Number(length) };
  return undefined;
}

function version(text: string, kind: string): 0 | 1 {
  if (text === "HTTP/1.1") return 1;
  if (text === "HTTP/1.0") return 0;
  // As nginx: a later HTTP/1 minor (1.2, 1.01) is served as 1.1, or as 1.0 when it is zero.
  const minor = /^HTTP\/1\.(\d{1,3})$/.exec(text)?.[1];
  if (minor !== undefined && kind === "request") return Number(minor) === 0 ? 0 : 1;
  throw new HeadError(
    `${kind} version "${text.slice(0, 20)}" is not HTTP/1.0 or 1.1`,
    505,
    "bad_version",
  );
}

function keepAliveOf(connection: string[], minor: 0 | 1): boolean {
  if (connection.includes("close")) return false;
  return minor === 1 || connection.includes("keep-alive");
}

/** Parses a request head (`head` ends with CRLFCRLF). Throws {@linkcode HeadError}. */
export function parseRequestHead(head: Uint8Array): RequestHead {
  const at = lines(head, "request");
  // Spaces between the parts may repeat and trail (nginx takes them; the line is rewritten).
  const first = latin1(head.subarray(at[0], at[1])).replace(/ +$/, "").split(/ +/);
  if (first.length !== 3) {
    throw new HeadError("request line is not METHOD SP target SP version", 400, "bad_request_line");
  }
  const [method, target, ver] = first as [string, string, string];
  if (!METHOD.test(method)) {
    throw new HeadError("request method is not upper-case letters, _ or -", 400, "bad_method");
  }
  if (!TARGET.test(target)) {
    throw new HeadError("request target is empty or has a control character", 400, "bad_target");
  }
  const minor = version(ver, "request");
  const headers = parseFields(head, at, "request");
  let hosts = 0;
  let host = "";
  for (const h of headers) {
    if (h.is("host")) {
      hosts++;
      host = h.value;
    }
  }
  if (hosts > 1 || (minor === 1 && hosts === 0)) {
    throw new HeadError(`request has ${hosts} Host headers`, 400, "bad_host");
  }
  if (hosts === 1 && !validHost(host)) {
    throw new HeadError(`request Host "${host.slice(0, 40)}" is invalid`, 400, "bad_host");
  }
  const framing = framingOf(headers, minor, "request") ?? NO_BODY;
  const connection = headerTokens(headers, "connection");
  const websocket = method === "GET" && minor === 1 && connection.includes("upgrade") &&
    headerTokens(headers, "upgrade").includes("websocket");
  return {
    method,
    target,
    minor,
    headers,
    framing,
    keepAlive: keepAliveOf(connection, minor),
    websocket,
    connection,
    length: head.length,
    raw: head,
  };
}

/**
 * Parses a response head to a request of `method`. A response without framing headers runs
 * until the connection closes, except where it has no body at all (HEAD, 1xx, 204, 304).
 */
export function parseResponseHead(head: Uint8Array, method: string): ResponseHead {
  const at = lines(head, "response");
  const m = /^(HTTP\/1\.[01]) ([1-9]\d\d)(?: (.*))?$/.exec(latin1(head.subarray(at[0], at[1])));
  // A status under 100 would pass as an interim response and be sent on to the client.
  if (!m) throw new HeadError("upstream status line is malformed", 502, "bad_status_line");
  const minor = version(m[1]!, "upstream");
  const status = Number(m[2]);
  const headers = parseFields(head, at, "upstream");
  let framing = framingOf(headers, minor, "upstream");
  if (method === "HEAD" || status < 200 || status === 204 || status === 304) {
    framing = NO_BODY;
  }
  framing ??= TO_CLOSE;
  const connection = headerTokens(headers, "connection");
  return {
    minor,
    status,
    reason: m[3] ?? "",
    headers,
    framing,
    keepAlive: framing.kind !== "close" && keepAliveOf(connection, minor),
    connection,
    length: head.length,
    raw: head,
  };
}
