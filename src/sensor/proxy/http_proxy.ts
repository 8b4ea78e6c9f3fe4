import { clientAddress } from "./client_address.ts";
import { type ConnIo, IoTimeout } from "./conn_io.ts";
import { connectUpstream } from "./connect_upstream.ts";
import {
  HeadError,
  headerValue,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
} from "./http_head.ts";
import { BodyError, pipeBody } from "./pipe_body.ts";
import { encodeProxyHeader } from "./proxy_protocol.ts";
import { requestRecord, responseRecord } from "./proxy_records.ts";
import type { Accepted } from "./accept_clients.ts";
import { ProxyListener } from "./_proxy_listener.ts";
import { tunnel } from "./tunnel.ts";
import type { HttpRecord } from "../wire/record.ts";
import type { PickedUpstream } from "./upstream_picker.ts";

const ascii = new TextEncoder();

// Hop-by-hop headers (RFC 9110 §7.6.1, and the ones nginx drops).
const RESPONSE_DROP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "upgrade",
];
// And the forwarding headers the proxy writes itself: a client must not choose what the
// upstream reads as its address.
const REQUEST_DROP = [
  ...RESPONSE_DROP,
  "x-forwarded-for",
  "forwarded",
  "x-real-ip",
  "x-forwarded-proto",
];
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);
// Idle upstream connections kept per upstream for reuse.
const MAX_IDLE_PER_UPSTREAM = 64;

const REASONS: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  408: "Request Timeout",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/** One client request as {@linkcode HttpProxy} forwards it, once or again after a retry. */
interface Exchange {
  a: Accepted;
  head: RequestHead;
  /** The client's address (a trusted proxy's word for it, or the peer). */
  client: string;
  /** The forwarding lines the upstream gets (X-Forwarded-For, X-Real-IP, -Proto). */
  forward: ForwardLines;
  /** The X-Forwarded-For the client sent, for the record. */
  claimed: string;
  /** Requests on this client connection so far, this one included. */
  requests: number;
  /** Set on the retry after a stale upstream connection: the first attempt's record. */
  retry?: { before: HttpRecord | undefined };
}

/** A connection's forwarding lines, encoded once for as long as its client address holds. */
interface ForwardLines {
  forwardedFor: string;
  client: string;
  bytes: Uint8Array;
}

function forwardLines(forwardedFor: string, client: string, tls: boolean): ForwardLines {
  const text = `X-Forwarded-For: ${forwardedFor}\r\nX-Real-IP: ${client}\r\n` +
    `X-Forwarded-Proto: ${tls ? "https" : "http"}\r\n`;
  return { forwardedFor, client, bytes: Uint8Array.from(text, (c) => c.charCodeAt(0)) };
}

let sequence = 0;
const RUN = crypto.randomUUID().slice(0, 8);

/** A status page the proxy answers itself; the connection closes after it unless kept. */
function errorResponse(status: number, keepAlive = false): Uint8Array {
  const reason = REASONS[status] ?? "Error";
  const body = `${status} ${reason}\n`;
  return ascii.encode(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}` +
      `\r\nConnection: ${keepAlive ? "keep-alive" : "close"}\r\n\r\n${body}`,
  );
}

const CRLF = ascii.encode("\r\n");
// The common end of a request head: HTTP/1.1, no Via before ours, no upgrade.
const VIA_END = ascii.encode("Via: 1.1 qts\r\n\r\n");
const CONTINUE = ascii.encode("HTTP/1.1 100 Continue\r\n\r\n");

/**
 * Room to reserve for a head rewritten from `raw`: its bytes, a CR for each line that ended in
 * a bare LF, and the lines added (`extra` bytes of values, 256 of names and fixed text).
 */
function headRoom(raw: Uint8Array, fields: number, extra: number): number {
  return raw.length + 2 * fields + extra + 256;
}

/**
 * Queues the request head as the upstream gets it: the client's header lines copied byte for
 * byte, less the hop-by-hop and forwarding ones, then the proxy's own.
 */
async function writeUpstreamRequest(
  up: ConnIo,
  head: RequestHead,
  upstream: PickedUpstream,
  forward: ForwardLines,
): Promise<void> {
  const raw = head.raw;
  const room = up.reserve(
    headRoom(raw, head.headers.length, upstream.address.length + forward.bytes.length),
  );
  if (room) await room;
  up.putText(`${head.method} ${head.target} HTTP/1.${head.minor}\r\n`);
  let via = "";
  let host = false;
  for (const h of head.headers) {
    if (h.isAny(REQUEST_DROP) || (head.connection.length > 0 && h.isAny(head.connection))) {
      continue;
    }
    if (h.is("via")) {
      via = via === "" ? h.value : `${via}, ${h.value}`;
      continue;
    }
    if (h.is("host")) host = true;
    up.put(raw.subarray(h.from, h.to));
    up.put(CRLF);
  }
  if (!host) up.putText(`Host: ${upstream.address}\r\n`);
  up.put(forward.bytes);
  if (via === "" && head.minor === 1 && !head.websocket) {
    up.put(VIA_END);
    return;
  }
  let out = `Via: ${via === "" ? "" : `${via}, `}1.${head.minor} qts\r\n`;
  if (head.websocket) out += "Connection: upgrade\r\nUpgrade: websocket\r\n";
  // An HTTP/1.0 request closes unless it asks to persist; the client's wish goes on.
  else if (head.minor === 0) {
    out += head.keepAlive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  }
  up.putText(`${out}\r\n`);
}

/**
 * Queues the response head as the client gets it. An HTTP/1.0 client assumes the connection
 * closes unless told `keep-alive` (`minor` 0 and not `close`), as nginx tells it.
 */
async function writeClientResponse(
  io: ConnIo,
  res: ResponseHead,
  close: boolean,
  upgrade: boolean,
  minor: 0 | 1 = 1,
): Promise<void> {
  const raw = res.raw;
  const upgradeTo = upgrade ? headerValue(res.headers, "upgrade") ?? "" : "";
  const room = io.reserve(headRoom(raw, res.headers.length, res.reason.length + upgradeTo.length));
  if (room) await room;
  io.putText(`HTTP/1.1 ${res.status} ${res.reason}\r\n`);
  for (const h of res.headers) {
    if (h.isAny(RESPONSE_DROP) || (res.connection.length > 0 && h.isAny(res.connection))) {
      continue;
    }
    io.put(raw.subarray(h.from, h.to));
    io.put(CRLF);
  }
  io.putText(
    upgrade
      ? `Connection: upgrade\r\nUpgrade: ${upgradeTo}\r\n\r\n`
      : close
      ? "Connection: close\r\n\r\n"
      : minor === 0
      ? "Connection: keep-alive\r\n\r\n"
      : "\r\n",
  );
}

/**
 * Drops CR and LF bytes before a request line (RFC 9112 §2.2; nginx does the same), e.g. the
 * CRLF an old client sends after a POST body; true when another byte is buffered.
 */
function skipLineEnds(io: ConnIo): boolean {
  while (io.start < io.end && (io.buf[io.start] === 13 || io.buf[io.start] === 10)) io.start++;
  return io.start < io.end;
}

/**
 * {@linkcode skipLineEnds} across reads; false when the stream ends first. Runs under the
 * header deadline, so a client cannot stay connected by sending only line ends.
 */
async function skipEmptyLines(io: ConnIo): Promise<boolean> {
  while (!skipLineEnds(io)) if (!(await io.fill())) return false;
  return true;
}

/** Reads a response head, forwarding interim 1xx ones (except 101) to the client. */
async function readResponse(
  up: ConnIo,
  client: ConnIo,
  method: string,
): Promise<ResponseHead | undefined> {
  for (;;) {
    const raw = await up.readHead(64 * 1024);
    if (raw === null) return undefined;
    const res = parseResponseHead(raw, method);
    if (res.status >= 200 || res.status === 101) return res;
    // 100 Continue was answered by us already; other interim responses go through.
    if (res.status !== 100) await writeClientResponse(client, res, false, false);
  }
}

/**
 * An HTTP/1.1 reverse proxy listener (`[proxy:http:<name>]`): keep-alive on both sides,
 * bodies streamed both ways (chunked passed through as it is), WebSocket upgrades turned into
 * a byte tunnel, banned clients answered with `ban_status`, and every request observed as a
 * before-record at its head and an after-record at its response head.
 */
export class HttpProxy extends ProxyListener {
  readonly #idle = new Map<string, ConnIo[]>();

  /** Stops accepting, closes idle upstream connections, and waits for open exchanges. */
  override async close(): Promise<void> {
    await super.close();
    for (const list of this.#idle.values()) for (const io of list) io.close();
    this.#idle.clear();
  }

  protected async serve(a: Accepted): Promise<void> {
    const ctx = this.ctx;
    const name = this.config.name;
    const io = a.io;
    let requests = 0;
    // The address this connection is also registered under when a trusted proxy names it.
    let extra: string | undefined;
    let forward: ForwardLines | undefined;
    try {
      for (;;) {
        // Waiting for a request is idle time; once its first byte is in, the whole head must
        // arrive within the header timeout (a slowloris trickle cannot reset it).
        if (io.buffered === 0) {
          io.readTimeout = ctx.limits.idleTimeoutMs;
          io.readKind = "idle";
          if (!(await io.fill())) return;
        }
        io.readTimeout = 0;
        io.setDeadline(ctx.limits.headerTimeoutMs, "header");
        if (!skipLineEnds(io) && !(await skipEmptyLines(io))) return;
        const raw = io.takeHead(ctx.limits.maxHeaderBytes) ??
          await io.readHead(ctx.limits.maxHeaderBytes);
        io.clearDeadline();
        if (raw === null) return;
        const head = parseRequestHead(raw);
        requests++;
        const addr = clientAddress(a.client, head.headers, ctx.trusted);
        if (addr.ip !== a.client && addr.ip !== extra) {
          if (extra !== undefined) ctx.registry.release(extra, io);
          extra = addr.ip;
          if (!ctx.registry.admit(extra, io, true)) {
            extra = undefined;
            ctx.metrics.refused(name, "per_ip_limit");
            await this.#answer(io, 429);
            return;
          }
        }
        if (ctx.bans.banned(addr.ip)) {
          ctx.metrics.refused(name, "banned");
          // A trusted proxy's connection carries other clients too: keep it when nothing of
          // the refused request is left to read.
          const keep = addr.ip !== a.client && head.keepAlive && head.framing.kind === "none";
          await this.#answer(io, ctx.banStatus, keep);
          if (keep) continue;
          return;
        }
        if (forward?.forwardedFor !== addr.forwardedFor || forward.client !== addr.ip) {
          forward = forwardLines(addr.forwardedFor, addr.ip, a.cipher !== "");
        }
        const keep = await this.#exchange({
          a,
          head,
          client: addr.ip,
          forward,
          claimed: addr.claimed,
          requests,
        });
        if (!keep || !head.keepAlive) return;
      }
    } catch (error) {
      if (error instanceof HeadError) {
        ctx.metrics.rejected(name, error.reason);
        await this.#answer(io, error.status).catch(() => {});
      } else if (error instanceof IoTimeout) {
        // The limit closed the socket: nothing can be answered (nginx only logs its 408).
        ctx.metrics.timeout(name, error.kind);
      } else if (error instanceof BodyError) {
        ctx.metrics.rejected(name, error.reason);
      } else {
        ctx.metrics.aborted(name, "client_error");
      }
    } finally {
      if (extra !== undefined) ctx.registry.release(extra, io);
    }
  }

  async #answer(io: ConnIo, status: number, keepAlive = false): Promise<void> {
    this.ctx.metrics.request(this.config.name, status);
    await io.write(errorResponse(status, keepAlive));
    await io.flush();
  }

  /** An idle upstream connection to `u`, or a new one. */
  #takeIdle(u: PickedUpstream): ConnIo | undefined {
    const list = this.#idle.get(u.address);
    while (list && list.length > 0) {
      const io = list.pop()!;
      if (!io.closed) return io;
    }
    return undefined;
  }

  #putIdle(u: PickedUpstream, io: ConnIo): void {
    let list = this.#idle.get(u.address);
    if (!list) {
      list = [];
      this.#idle.set(u.address, list);
    }
    if (list.length >= MAX_IDLE_PER_UPSTREAM) list.shift()!.close();
    io.readTimeout = 0;
    list.push(io);
  }

  /**
   * One request: to an upstream and back. Returns whether the client connection may carry
   * another request.
   */
  async #exchange(x: Exchange): Promise<boolean> {
    const { a, head, client, forward } = x;
    const ctx = this.ctx;
    const name = this.config.name;
    const io = a.io;
    // Records only when something takes them (qts serve, records_to): they cost per request.
    // A retry keeps the first attempt's before-record: the sensor sees one request.
    const before = x.retry ? x.retry.before : ctx.submit === undefined ? undefined : requestRecord({
      id: `${RUN}-${++sequence}`,
      client,
      clientPort: a.clientPort,
      serverPort: a.local.port,
      head,
      at: Date.now(),
      connectionRequests: x.requests,
      forwardedFor: x.claimed,
      sslCipher: a.cipher,
    });
    if (before && !x.retry) this.submit(before);
    const upstreams: string[] = [];
    const statuses: number[] = [];
    const times: number[] = [];
    const finish = (status: number, res?: ResponseHead, bodyBytes = 0) => {
      if (!before) return;
      this.submit(responseRecord(before, {
        status,
        headers: res?.headers ?? [],
        upstreams,
        upstreamStatuses: statuses,
        upstreamMs: times,
        at: Date.now(),
        requestBodyBytes: bodyBytes,
      }));
    };

    const pp = this.config.upstreamProxyProtocol;
    const hasBody = head.framing.kind !== "none";
    // A reused keep-alive connection may have been closed by the upstream meanwhile: a request
    // that can be sent again goes once more on a fresh connection if the reused one fails.
    const reusable = pp === 0 && !head.websocket;
    let up: ConnIo | undefined;
    let upstream: PickedUpstream | undefined;
    let startedAt = Date.now();
    let reused = false;
    if (reusable && !x.retry) {
      upstream = this.pool.pick(client);
      if (upstream) {
        up = this.#takeIdle(upstream);
        reused = up !== undefined;
      }
    }
    if (!up) {
      const got = await connectUpstream(
        ctx,
        name,
        this.pool,
        client,
        {
          first: upstream,
          preface: pp === 0
            ? undefined
            : () =>
              encodeProxyHeader(pp, { ip: client, port: a.clientPort }, {
                ip: a.local.hostname,
                port: a.local.port,
              }),
        },
      );
      for (const f of got?.failed ?? []) {
        upstreams.push(f.address);
        statuses.push(502);
        times.push(f.ms);
      }
      if (!got) {
        ctx.metrics.refused(name, "no_upstream");
        finish(502);
        await this.#answer(io, 502);
        return false;
      }
      up = got.io;
      upstream = got.upstream;
      startedAt = got.startedAt;
    }
    const pool = this.pool;
    pool.acquire(upstream!);
    let released = false;
    const release = () => {
      if (!released) pool.release(upstream!);
      released = true;
    };
    try {
      const expect = headerValue(head.headers, "expect")?.toLowerCase() === "100-continue";
      await writeUpstreamRequest(up, head, upstream!, forward);
      if (expect && hasBody) {
        await io.write(CONTINUE);
        await io.flush();
      }
      io.readTimeout = ctx.limits.bodyTimeoutMs;
      io.readKind = "body";
      let bodyBytes = 0;
      try {
        bodyBytes = await pipeBody(io, up, head.framing);
      } catch (error) {
        up.close();
        throw error;
      }
      up.readTimeout = ctx.limits.upstreamTimeoutMs;
      up.readKind = "upstream";
      let res: ResponseHead | undefined;
      try {
        await up.flush();
        res = await readResponse(up, io, head.method);
        if (!res) throw new Deno.errors.ConnectionReset("upstream closed before answering");
      } catch (error) {
        up.close();
        if (reused && !hasBody && IDEMPOTENT.has(head.method)) {
          // Stale keep-alive connection: once more on a fresh one.
          ctx.metrics.upstreamError(name, upstream!.address, "stale");
          release();
          return await this.#exchangeFresh({ ...x, retry: { before } });
        }
        const timedOut = error instanceof IoTimeout;
        const bad = error instanceof HeadError;
        ctx.metrics.upstreamError(
          name,
          upstream!.address,
          timedOut ? "timeout" : bad ? "bad_response" : "reset",
        );
        pool.reportFailure(upstream!);
        upstreams.push(upstream!.address);
        statuses.push(timedOut ? 504 : 502);
        times.push(Date.now() - startedAt);
        finish(timedOut ? 504 : 502);
        await this.#answer(io, timedOut ? 504 : 502);
        return false;
      }
      pool.reportSuccess(upstream!);
      upstreams.push(upstream!.address);
      statuses.push(res.status);
      times.push(Date.now() - startedAt);
      finish(res.status, res, bodyBytes);
      ctx.metrics.request(name, res.status);

      if (res.status === 101) {
        if (!head.websocket) {
          up.close();
          return false;
        }
        await writeClientResponse(io, res, false, true);
        await io.flush();
        const end = await tunnel(io, up, ctx.limits.tunnelIdleMs);
        ctx.metrics.tunnel(name, end);
        return false;
      }
      // HTTP/1.0 clients persist only with `Connection: keep-alive` (head.keepAlive) and a body
      // whose end they can tell (no chunked in 1.0; an upstream asked in 1.0 sends none).
      const close = !head.keepAlive || res.framing.kind === "close" ||
        (head.minor === 0 && res.framing.kind === "chunked");
      await writeClientResponse(io, res, close, false, head.minor);
      try {
        await pipeBody(up, io, res.framing);
        await io.flush();
      } catch (error) {
        up.close();
        if (error instanceof IoTimeout && error.kind === "upstream") {
          ctx.metrics.upstreamError(name, upstream!.address, "timeout");
        } else if (error instanceof BodyError) {
          ctx.metrics.upstreamError(name, upstream!.address, "bad_response");
        } else ctx.metrics.aborted(name, "client_error");
        return false;
      }
      release();
      // A 1.0 request asked the upstream to close unless the client asked to keep alive.
      const upKept = res.keepAlive && (head.minor === 1 || head.keepAlive);
      if (reusable && upKept && !up.closed) this.#putIdle(upstream!, up);
      else up.close();
      return !close;
    } finally {
      release();
    }
  }

  /** {@linkcode HttpProxy.#exchange} on a new upstream connection (after a stale reuse). */
  #exchangeFresh(x: Exchange): Promise<boolean> {
    const idle = this.#idle;
    // Every idle connection to the upstreams is suspect after one went stale.
    for (const list of idle.values()) for (const io of list) io.close();
    idle.clear();
    return this.#exchange(x);
  }
}
