import type { PacketView } from "../../../shared/capture/packet_view.ts";
import {
  type HttpFraming,
  isHttpResponse,
  parseHttpRequest,
  parseHttpResponse,
} from "../signatures/http_signature.ts";
import { type BodyFraming, HttpStream } from "./_http_stream.ts";

/** Distinct values kept per kind and flow; later new values are counted under {@linkcode OTHER}. */
export const MAX_DISTINCT = 16;
/** The key that counts values past {@linkcode MAX_DISTINCT}. */
export const OTHER = "(other)";
/** Longest URL kept (longer ones are cut). */
const MAX_URL = 256;
/** Requests whose responses are still outstanding, remembered for HEAD (pipelining bound). */
const MAX_PENDING = 64;

/** What one HTTP/1.x connection carried: counts per request, response and distinct value. */
export interface HttpSummary {
  requests: number;
  responses: number;
  /** Requests per User-Agent, Host and URL (`http://host/path`, query left out). */
  userAgents: Map<string, number>;
  hosts: Map<string, number>;
  urls: Map<string, number>;
  /** Responses per status code (0 counts codes past the distinct bound). */
  statuses: Map<number, number>;
  /** Times a direction lost its place (lost segment, snap length, not HTTP): the counts above
   * are then a floor, and the flow says so. */
  gaps: number;
}

function add<K>(map: Map<K, number>, key: K, other: K): void {
  const n = map.get(key);
  if (n !== undefined) map.set(key, n + 1);
  else if (map.size < MAX_DISTINCT) map.set(key, 1);
  else map.set(other, (map.get(other) ?? 0) + 1);
}

/** `http://host/path` of a request target, without its query (ids and tokens live there). */
function urlOf(target: string, host: string | undefined): string {
  const cut = target.search(/[?#]/);
  const path = cut >= 0 ? target.slice(0, cut) : target;
  const url = path.startsWith("/") && host !== undefined ? `http://${host}${path}` : path;
  return url.length > MAX_URL ? url.slice(0, MAX_URL) : url;
}

function bodyOf(f: HttpFraming): BodyFraming {
  return f.chunked === true ? "chunked" : { length: f.contentLength ?? 0 };
}

function startsRequest(buf: Uint8Array, offset: number, end: number): boolean {
  return parseHttpRequest(buf.subarray(offset, Math.min(end, offset + 64))) !== undefined;
}

function startsResponse(buf: Uint8Array, offset: number, end: number): boolean {
  return isHttpResponse(buf.subarray(offset, Math.min(end, offset + 13)));
}

/**
 * Follows one HTTP/1.x connection past its first request: every request (method, Host,
 * User-Agent, URL) and every response status, with bodies skipped by their framing, so a
 * keep-alive connection with 200 requests counts 200 and each User-Agent it sent. Direction 0
 * is the client (the flow's initiator). Memory: one head buffer per direction and at most
 * {@linkcode MAX_DISTINCT} values per kind.
 */
export class HttpExchanges {
  readonly summary: HttpSummary = {
    requests: 0,
    responses: 0,
    userAgents: new Map(),
    hosts: new Map(),
    urls: new Map(),
    statuses: new Map(),
    gaps: 0,
  };
  /** Per outstanding request: was it HEAD (its response has no body). */
  readonly #pendingHead: boolean[] = [];
  readonly #streams: [HttpStream, HttpStream];

  constructor() {
    this.#streams = [
      new HttpStream((head) => this.#request(head), startsRequest),
      new HttpStream((head) => this.#response(head), startsResponse),
    ];
  }

  /**
   * Feeds the first payload bytes of a direction (already in order); `truncated` when the
   * collector stopped inside a packet, so the bytes after them are unknown.
   */
  feed(direction: 0 | 1, bytes: Uint8Array, truncated: boolean): void {
    const stream = this.#streams[direction];
    stream.feed(bytes);
    if (truncated) stream.lose();
    this.summary.gaps = this.#streams[0].lost + this.#streams[1].lost;
  }

  /** Feeds one later TCP packet of a direction. */
  feedPacket(direction: 0 | 1, view: PacketView): void {
    const stream = this.#streams[direction];
    stream.feedPacket(view);
    this.summary.gaps = this.#streams[0].lost + this.#streams[1].lost;
  }

  #request(head: Uint8Array): BodyFraming | undefined {
    const req = parseHttpRequest(head);
    if (req === undefined) return undefined;
    const s = this.summary;
    s.requests++;
    if (req.userAgent !== undefined && req.userAgent !== "") {
      add(s.userAgents, req.userAgent, OTHER);
    }
    if (req.host !== undefined) add(s.hosts, req.host, OTHER);
    add(s.urls, urlOf(req.target, req.host), OTHER);
    if (this.#pendingHead.length < MAX_PENDING) this.#pendingHead.push(req.method === "HEAD");
    // A tunnel carries no more HTTP this side can read.
    return req.method === "CONNECT" ? "close" : bodyOf(req);
  }

  #response(head: Uint8Array): BodyFraming | undefined {
    const res = parseHttpResponse(head);
    if (res === undefined) return undefined;
    const s = this.summary;
    s.responses++;
    add(s.statuses, res.status, 0);
    // An interim response (100 Continue …) precedes the final one for the same request.
    const interim = res.status >= 100 && res.status < 200 && res.status !== 101;
    const wasHead = interim ? false : this.#pendingHead.shift() === true;
    if (res.status === 101) return "close"; // switched protocols (WebSocket …)
    if (wasHead || interim || res.status === 204 || res.status === 304) return { length: 0 };
    if (res.chunked !== true && res.contentLength === undefined) return "close";
    return bodyOf(res);
  }
}
