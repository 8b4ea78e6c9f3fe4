/**
 * PUSH socket: sends each message to one PULL peer, round-robin, with back-pressure.
 * @module
 */

import type { Connection } from "./_connection.ts";
import { Deque } from "./_deque.ts";
import { assertFrames } from "./_protocol.ts";
import { SocketBase } from "./_socket_base.ts";
import type { ZmtpOptions } from "./types.ts";

interface PendingSend {
  frames: Uint8Array[];
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * ZeroMQ PUSH over ZMTP 3.1. `send()` waits while no peer is connected or every peer's queue
 * is at the high-water mark; sends complete in call order.
 * @example
 * ```ts
 * const push = new PushSocket();
 * push.connect("tcp://127.0.0.1:4100");
 * await push.send([new TextEncoder().encode("http:8984:"), body]);
 * ```
 */
export class PushSocket extends SocketBase {
  readonly #peers: Connection[] = [];
  #next = 0;
  readonly #pending = new Deque<PendingSend>();

  /** Creates an unbound, unconnected PUSH socket. */
  constructor(options: ZmtpOptions = {}) {
    super("PUSH", options);
  }

  /**
   * Queues `frames` for the next peer with room, or waits for one. The frames are not copied:
   * do not change them after the call. Rejects with TypeError once the socket is closed.
   */
  send(frames: Uint8Array[]): Promise<void> {
    assertFrames(frames, "PUSH socket");
    if (this.closed) return Promise.reject(new TypeError("Cannot send: the PUSH socket is closed"));
    if (this.#pending.length === 0 && this.#offer(frames)) return Promise.resolve();
    return new Promise((resolve, reject) => this.#pending.push({ frames, resolve, reject }));
  }

  /** Queues `frames` if a peer has room right now; returns false (nothing queued) otherwise. */
  trySend(frames: Uint8Array[]): boolean {
    assertFrames(frames, "PUSH socket");
    if (this.closed || this.#pending.length > 0) return false;
    return this.#offer(frames);
  }

  #offer(frames: Uint8Array[]): boolean {
    const peers = this.#peers;
    const hwm = this.opts.hwm;
    for (let i = 0; i < peers.length; i++) {
      const index = (this.#next + i) % peers.length;
      const c = peers[index]!;
      if (c.queued >= hwm) continue;
      this.#next = index + 1;
      c.send(frames);
      this.stats.messagesOut++;
      for (const frame of frames) this.stats.bytesOut += frame.length;
      return true;
    }
    return false;
  }

  #pump(): void {
    for (let p = this.#pending.peek(); p !== undefined; p = this.#pending.peek()) {
      if (!this.#offer(p.frames)) return;
      this.#pending.shift();
      p.resolve();
    }
  }

  protected override onReady(c: Connection): void {
    this.#peers.push(c);
    this.#pump();
  }

  protected override onWritable(c: Connection): void {
    if (this.#pending.length > 0 && c.queued < this.opts.hwm) this.#pump();
  }

  protected override onClosed(c: Connection): void {
    const index = this.#peers.indexOf(c);
    if (index >= 0) this.#peers.splice(index, 1);
  }

  protected override onClose(): void {
    const error = new TypeError("Cannot send: the PUSH socket was closed while waiting");
    for (let p = this.#pending.shift(); p !== undefined; p = this.#pending.shift()) {
      p.reject(error);
    }
  }
}
