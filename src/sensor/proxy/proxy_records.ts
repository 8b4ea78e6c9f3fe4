import { parseIPv4 } from "../../shared/net/ip.ts";
import { emptyRecord, type HttpRecord } from "../wire/record.ts";
import { type HeaderField, headerValue, type RequestHead } from "./http_head.ts";

/** What the proxy knows of a request when its head has been read. */
export interface RequestSeen {
  /** Request id joining the before- and after-record (`qrator_request_id`). */
  id: string;
  client: string;
  clientPort: number;
  serverPort: number;
  head: RequestHead;
  /** When the head was complete (ms since the epoch). */
  at: number;
  /** Requests on this client connection so far, this one included. */
  connectionRequests: number;
  /** The X-Forwarded-For/Forwarded value the client address was taken from. */
  forwardedFor: string;
  /** TLS cipher of the client connection, "" for plain TCP. */
  sslCipher: string;
}

/** What the proxy knows when the upstream's response head has arrived. */
export interface ResponseSeen {
  status: number;
  headers: readonly HeaderField[];
  /** `host:port` of each upstream tried, in order; the last one answered. */
  upstreams: string[];
  /** Status of each upstream tried (502 for a failed connect). */
  upstreamStatuses: number[];
  /** Milliseconds each upstream took to answer (or fail). */
  upstreamMs: number[];
  /** When the response head arrived (ms since the epoch). */
  at: number;
  /** Bytes of the request body sent upstream. */
  requestBodyBytes: number;
}

const utf8 = new TextDecoder();

function header(head: RequestHead, name: string): string {
  return headerValue(head.headers, name) ?? "";
}

// Header bytes are latin1 on the wire; record strings are UTF-8 text, as nginx logs them.
function text(value: string): string {
  if (!/[\x80-\xff]/.test(value)) return value;
  const bytes = Uint8Array.from(value, (c) => c.charCodeAt(0));
  return utf8.decode(bytes);
}

/**
 * The before-record of a proxied request (`req_type` 0, SPEC §2): what a proxy module sends
 * before the upstream answers, so rate filters see the request at once.
 */
export function requestRecord(seen: RequestSeen): HttpRecord {
  const r = emptyRecord();
  const h = seen.head;
  r.timestamp = Math.floor(seen.at / 1000);
  r.msec = (seen.at / 1000).toFixed(3);
  r.remote_ip = parseIPv4(seen.client) ?? 0;
  r.remote_addr = seen.client;
  r.method = h.method;
  r.url = text(h.target);
  r.version = h.minor === 1 ? "HTTP/1.1" : "HTTP/1.0";
  r.request = `${h.method} ${text(h.target)} ${r.version}`;
  r.host = text(header(h, "host"));
  r.referer = text(header(h, "referer"));
  r.accept = text(header(h, "accept"));
  r.accept_language = text(header(h, "accept-language"));
  r.accept_encoding = text(header(h, "accept-encoding"));
  r.cookie = text(header(h, "cookie"));
  r.http_user_agent = text(header(h, "user-agent"));
  r.http_x_requested_with = text(header(h, "x-requested-with"));
  r.forwarded_for = seen.forwardedFor;
  r.qrator_request_id = seen.id;
  r.server_port = String(seen.serverPort);
  r.remote_port = String(seen.clientPort);
  r.connection_requests = String(seen.connectionRequests);
  r.ssl_cipher = seen.sslCipher;
  r.headers = h.headers.map((f) => `${f.name}: ${text(f.value)}`).join("\r\n");
  r.request_length = String(h.length + (h.framing.kind === "length" ? h.framing.length : 0));
  return r;
}

/**
 * The after-record (`req_type` 1) of a request whose response head has arrived: the before-
 * record completed with status, upstreams and timings, joined to it by `qrator_request_id`.
 */
export function responseRecord(before: HttpRecord, seen: ResponseSeen): HttpRecord {
  const started = Number(before.msec) * 1000;
  const r: HttpRecord = { ...before, req_type: 1 };
  r.status = seen.status;
  r.request_time = Math.max(0, Math.round(seen.at - started));
  r.response_time = seen.upstreamMs.length > 0 ? Math.round(seen.upstreamMs.at(-1)!) : 0;
  r.last_response_time = r.response_time;
  r.n_responses = seen.upstreams.length;
  r.responded_server = seen.upstreams.length - 1;
  // A bit per upstream that failed before the one that answered (at most 64).
  let failed = 0n;
  for (let i = 0; i < Math.min(64, seen.upstreamStatuses.length - 1); i++) {
    if (seen.upstreamStatuses[i]! >= 500) failed |= 1n << BigInt(i);
  }
  r.failed_servers = failed;
  r.upstream_addr = seen.upstreams.join(", ");
  r.upstream_statuses = seen.upstreamStatuses.join(", ");
  r.upstream_durations = seen.upstreamMs.map((ms) => (ms / 1000).toFixed(3)).join(", ");
  r.sent_http_location = text(headerValue(seen.headers, "location") ?? "");
  r.sent_http_content_type = text(headerValue(seen.headers, "content-type") ?? "");
  r.upstream_bytes_sent = String(before.request_length === "" ? 0 : seen.requestBodyBytes);
  return r;
}

/** What the proxy knows of a TCP connection (plain TCP listeners). */
export interface ConnectionSeen {
  id: string;
  listener: string;
  client: string;
  clientPort: number;
  serverPort: number;
  at: number;
}

/**
 * The record of a TCP connection through a TCP listener, so the same filters count connections
 * per IP: method `TCP`, url `/<listener>`, host the listener's name. At open it is a before-
 * record; at close, `bytes` completes it (`request_length` client → upstream, `bytes_sent`
 * upstream → client) with status 200, or 502 when no upstream took it.
 */
export function connectionRecord(
  seen: ConnectionSeen,
  closed?: { status: number; bytesIn: number; bytesOut: number; upstream: string; at: number },
): HttpRecord {
  const r = emptyRecord();
  r.timestamp = Math.floor(seen.at / 1000);
  r.msec = (seen.at / 1000).toFixed(3);
  r.remote_ip = parseIPv4(seen.client) ?? 0;
  r.remote_addr = seen.client;
  r.method = "TCP";
  r.url = `/${seen.listener}`;
  r.host = seen.listener;
  r.request = `TCP /${seen.listener}`;
  r.qrator_request_id = seen.id;
  r.server_port = String(seen.serverPort);
  r.remote_port = String(seen.clientPort);
  if (closed) {
    r.req_type = 1;
    r.status = closed.status;
    r.request_time = Math.max(0, Math.round(closed.at - seen.at));
    r.request_length = String(closed.bytesIn);
    r.bytes_sent = String(closed.bytesOut);
    r.body_bytes_sent = Math.min(closed.bytesOut, 0xffffffff);
    r.upstream_addr = closed.upstream;
  }
  return r;
}
