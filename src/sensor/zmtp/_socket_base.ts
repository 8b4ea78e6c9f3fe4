/**
 * What every ZMTP socket shares: bind and accept, connect with reconnect and backoff,
 * heartbeats, counters, logging and a clean close. Socket types override the hooks.
 * @module
 */

import { Connection, type ConnectionHost, type ResolvedOptions } from "./_connection.ts";
import { formatEndpoint, parseEndpoint } from "./_endpoint.ts";
import { encodePing, type SocketType } from "./_protocol.ts";
import { resolveCurve } from "./_curve.ts";
import {
  DISCONNECT_REASONS,
  type DisconnectReason,
  type ZmtpLogger,
  type ZmtpOptions,
  type ZmtpStats,
} from "./types.ts";

interface Bound {
  listener: Deno.Listener;
  loop: Promise<void>;
}

interface Connecter {
  endpoint: string;
  loop: Promise<void>;
}

function silent(): void {}

function resolveOptions(options: ZmtpOptions): ResolvedOptions {
  const interval = options.heartbeatInterval ?? 0;
  const maxFrame = options.maxFrame ?? 16 * 1024 * 1024;
  const resolved: ResolvedOptions = {
    maxFrame,
    maxMessage: options.maxMessage ?? maxFrame * 4,
    maxFrames: options.maxFrames ?? 1024,
    hwm: options.hwm ?? 10_000,
    reconnect: options.reconnect ?? 100,
    reconnectMax: options.reconnectMax ?? 5_000,
    handshakeTimeout: options.handshakeTimeout ?? 10_000,
    heartbeatInterval: interval,
    heartbeatTimeout: options.heartbeatTimeout ?? interval * 3,
    linger: options.linger ?? 0,
    curve: undefined,
  };
  for (const [key, value] of Object.entries(resolved)) {
    if (key === "curve") continue;
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(`Cannot create ZMTP socket: option "${key}" is ${value}`);
    }
  }
  if (resolved.hwm < 1) throw new RangeError(`Cannot create ZMTP socket: option "hwm" is 0`);
  if (resolved.maxFrames < 1) {
    throw new RangeError(`Cannot create ZMTP socket: option "maxFrames" is 0`);
  }
  if (options.curve !== undefined) resolved.curve = resolveCurve(options.curve);
  return resolved;
}

/** Base of PullSocket, PushSocket, PubSocket and SubSocket. */
export abstract class SocketBase {
  /** Counters; the object is live, read it whenever metrics are scraped. */
  readonly stats: ZmtpStats;
  /** Connections in any state (handshaking or ready). */
  protected readonly connections: Set<Connection> = new Set();
  protected readonly opts: ResolvedOptions;
  protected readonly host: ConnectionHost;
  readonly #log: ZmtpLogger;
  readonly #bound: Bound[] = [];
  readonly #connecters: Connecter[] = [];
  /**
   * One controller per connect attempt in flight. Never aborted once the attempt succeeded:
   * aborting a connect signal later tears down the established stream under pending reads.
   */
  readonly #attempts = new Set<AbortController>();
  #closed = false;
  #ticker: ReturnType<typeof setInterval> | undefined;
  /** Pending backoff sleeps, so close() can end them at once. */
  readonly #sleeps = new Set<{ timer: ReturnType<typeof setTimeout>; resolve: () => void }>();

  constructor(type: SocketType, options: ZmtpOptions = {}) {
    this.opts = resolveOptions(options);
    this.#log = options.logger ?? silent;
    const disconnected = {} as Record<DisconnectReason, number>;
    for (const reason of DISCONNECT_REASONS) disconnected[reason] = 0;
    this.stats = {
      accepted: 0,
      connected: 0,
      connectFailed: 0,
      handshakes: 0,
      disconnected,
      droppedHwm: 0,
      oversized: 0,
      messagesIn: 0,
      messagesOut: 0,
      bytesIn: 0,
      bytesOut: 0,
    };
    const log = this.#log;
    this.host = {
      type,
      opts: this.opts,
      stats: this.stats,
      log: (event, fields) => log(event, { socket: type, ...fields }),
      onReady: (c) => this.onReady(c),
      onMessage: (c, frames) => this.onMessage(c, frames),
      onCommand: (c, name, data) => this.onCommand(c, name, data),
      onWritable: (c) => this.onWritable(c),
      onClosed: (c, reason) => {
        this.connections.delete(c);
        this.onClosed(c, reason);
      },
    };
  }

  /** True after close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Listens on a `tcp://host:port` endpoint (`*` = every IPv4 interface, port 0 = any free
   * port) and resolves to the endpoint actually bound. Rejects with what Deno.listen throws
   * (address in use, permission) or a TypeError for a bad endpoint, so misconfiguration fails
   * at start.
   */
  bind(endpoint: string): Promise<string> {
    try {
      return Promise.resolve(this.#listen(endpoint));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #listen(endpoint: string): string {
    this.#assertOpen("bind");
    const { hostname, port } = parseEndpoint(endpoint, "bind");
    const listener = Deno.listen({ hostname, port, transport: "tcp" });
    const addr = listener.addr as Deno.NetAddr;
    const actual = formatEndpoint(addr.hostname, addr.port);
    this.host.log("listen", { endpoint: actual });
    this.#bound.push({ listener, loop: this.#acceptLoop(listener) });
    this.#startTicker();
    return actual;
  }

  /**
   * Connects to a `tcp://host:port` endpoint in the background and keeps reconnecting with
   * exponential backoff (`reconnect` … `reconnectMax` ms) whenever the connection fails or ends.
   */
  connect(endpoint: string): void {
    this.#assertOpen("connect");
    const { hostname, port } = parseEndpoint(endpoint, "connect");
    this.#connecters.push({ endpoint, loop: this.#connectLoop(endpoint, hostname, port) });
    this.#startTicker();
  }

  /**
   * Stops listening and connecting, waits up to `linger` ms for queued outgoing messages, then
   * closes every connection and resolves once no operation or timer of this socket is left.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const attempt of this.#attempts) attempt.abort();
    for (const { listener } of this.#bound) {
      try {
        listener.close();
      } catch {
        // Already closed.
      }
    }
    for (const sleep of this.#sleeps) {
      clearTimeout(sleep.timer);
      sleep.resolve();
    }
    this.#sleeps.clear();
    if (this.#ticker !== undefined) clearInterval(this.#ticker);
    this.#ticker = undefined;
    if (this.opts.linger > 0) await this.#linger();
    const done: Promise<void>[] = [];
    for (const c of [...this.connections]) {
      done.push(c.done);
      c.close("closed");
    }
    this.onClose();
    await Promise.all([
      ...done,
      ...this.#bound.map((b) => b.loop),
      ...this.#connecters.map((c) => c.loop),
    ]);
  }

  /** Greeting and READY done with `c`. */
  protected onReady(_c: Connection): void {}
  /** A message arrived from `c`. */
  protected onMessage(c: Connection, _frames: Uint8Array[]): void {
    c.close("protocol_error", `${this.host.type} does not receive messages`);
  }
  /** SUBSCRIBE or CANCEL from `c`. */
  protected onCommand(_c: Connection, _name: string, _data: Uint8Array): void {}
  /** `c` wrote a batch; its queue may be below the hwm again. */
  protected onWritable(_c: Connection): void {}
  /** `c` ended. */
  protected onClosed(_c: Connection, _reason: DisconnectReason): void {}
  /** The socket is closing: end waiting receivers and senders. */
  protected onClose(): void {}

  #assertOpen(what: string): void {
    if (this.#closed) throw new TypeError(`Cannot ${what}: the ${this.host.type} socket is closed`);
  }

  #attach(conn: Deno.Conn, role: "client" | "server"): Connection {
    const c = new Connection(this.host, conn, role);
    this.connections.add(c);
    return c;
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (this.#closed) return;
        // E.g. out of file descriptors: back off instead of spinning.
        this.host.log("accept_failed", { detail: String(error) });
        await this.#sleep(100);
        continue;
      }
      if (this.#closed) {
        conn.close();
        return;
      }
      this.stats.accepted++;
      const c = this.#attach(conn, "server");
      this.host.log("accept", { peer: c.peer });
    }
  }

  async #connectLoop(endpoint: string, hostname: string, port: number): Promise<void> {
    let delay = this.opts.reconnect;
    while (!this.#closed) {
      let conn: Deno.Conn;
      const attempt = new AbortController();
      this.#attempts.add(attempt);
      try {
        conn = await Deno.connect({ hostname, port, signal: attempt.signal });
      } catch (error) {
        this.#attempts.delete(attempt);
        if (this.#closed) return;
        this.stats.connectFailed++;
        this.host.log("connect_failed", { endpoint, detail: String(error), retryMs: delay });
        await this.#sleep(delay);
        delay = Math.min(delay * 2, this.opts.reconnectMax);
        continue;
      }
      this.#attempts.delete(attempt);
      if (this.#closed) {
        conn.close();
        return;
      }
      this.stats.connected++;
      const c = this.#attach(conn, "client");
      this.host.log("connect", { endpoint, peer: c.peer });
      await c.done;
      if (this.#closed) return;
      // A connection that got through the handshake resets the backoff; one refused during
      // the handshake (wrong socket type…) keeps growing it, so we do not hammer the peer.
      delay = c.ready ? this.opts.reconnect : Math.min(delay * 2, this.opts.reconnectMax);
      this.host.log("reconnect", { endpoint, retryMs: delay });
      await this.#sleep(delay);
    }
  }

  #sleep(ms: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const sleep = {
        timer: setTimeout(() => {
          this.#sleeps.delete(sleep);
          resolve();
        }, ms),
        resolve,
      };
      this.#sleeps.add(sleep);
    });
  }

  /** One interval timer per socket drives heartbeats for all its connections. */
  #startTicker(): void {
    const interval = this.opts.heartbeatInterval;
    if (interval === 0 || this.#ticker !== undefined) return;
    const ping = encodePing(this.opts.heartbeatTimeout);
    this.#ticker = setInterval(() => {
      const now = performance.now();
      for (const c of this.connections) {
        if (!c.ready) continue;
        if (now - c.lastRecv > this.opts.heartbeatTimeout) c.close("heartbeat_timeout");
        else c.sendCommand(ping);
      }
    }, interval);
  }

  async #linger(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.opts.linger);
    });
    const ready = [...this.connections].filter((c) => c.ready);
    await Promise.race([Promise.all(ready.map((c) => c.drained())), timeout]);
    clearTimeout(timer);
  }
}
