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
    readonly status: 400 | 414 | 431 | 501 | 502 | 505,
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

function lines(head: Uint8Array, kind: string): string[] {
  const text = latin1.decode(head);
  // The head ends in an empty line (headEnd found it); lines end in CRLF or LF, never CR alone.
  const parts = text.replace(/\r?\n\r?\n$/, "").split(/\r?\n/);
  for (let i = 0; i < parts.length; i++) {
    const line = parts[i]!;
    if (line.includes("\r")) {
      throw new HeadError(`${kind} head has a bare CR`, 400, "bad_line_ending");
    }
    if (line.length + 2 > MAX_LINE) {
      throw i === 0
        ? new HeadError(`${kind} line is longer than ${MAX_LINE} bytes`, 414, "line_too_long")
        : new HeadError(
          `${kind} header line ${i} is longer than ${MAX_LINE} bytes`,
          431,
          "line_too_long",
        );
    }
  }
  return parts;
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
    return { kind: "chunked" };
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

function keepAliveOf(headers: HeaderField[], minor: 0 | 1): boolean {
  const connection = headerTokens(headers, "connection");
  if (connection.includes("close")) return false;
  return minor === 1 || connection.includes("keep-alive");
}

/** Parses a request head (`head` ends with CRLFCRLF). Throws {@linkcode HeadError}. */
export function parseRequestHead(head: Uint8Array): RequestHead {
  const parts = lines(head, "request");
  // Spaces between the parts may repeat and trail (nginx takes them; the line is rewritten).
  const first = parts[0]!.replace(/ +$/, "").split(/ +/);
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
  const headers = parseFields(parts, "request");
  const hosts = headers.filter((h) => h.lower === "host");
  if (hosts.length > 1 || (minor === 1 && hosts.length === 0)) {
    throw new HeadError(`request has ${hosts.length} Host headers`, 400, "bad_host");
  }
  if (hosts.length === 1 && !validHost(hosts[0]!.value)) {
    throw new HeadError(
      `request Host "${hosts[0]!.value.slice(0, 40)}" is invalid`,
      400,
      "bad_host",
    );
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
  const m = /^(HTTP\/1\.[01]) ([1-9]\d\d)(?: (.*))?$/.exec(line);
  // A status under 100 would pass as an interim response and be sent on to the client.
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
