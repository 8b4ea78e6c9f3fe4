/**
 * PUB socket: fans each message out to the subscribers whose prefix matches its first frame.
 * @module
 */

import type { Connection } from "./_connection.ts";
import { assertFrames, latin1 } from "./_protocol.ts";
import { SocketBase } from "./_socket_base.ts";
import { Subscriptions } from "./_subscriptions.ts";
import type { ZmtpOptions } from "./types.ts";

/**
 * ZeroMQ PUB over ZMTP 3.1. `send()` never blocks: a subscriber whose queue is at the
 * high-water mark misses the message (counted in `stats.droppedHwm`), the others get it.
 * Filtering happens here, on the first frame, as 37/ZMTP requires; subscriptions arrive as
 * SUBSCRIBE/CANCEL commands (3.1) or `\x01`/`\x00` data frames (3.0).
 * @example
 * ```ts
 * const pub = new PubSocket();
 * await pub.bind("tcp://127.0.0.1:4101");
 * pub.send([new TextEncoder().encode('{"method":"add"}')]);
 * ```
 */
export class PubSocket extends SocketBase {
  readonly #peers = new Map<Connection, Subscriptions>();

  /** Creates an unbound, unconnected PUB socket. */
  constructor(options: ZmtpOptions = {}) {
    super("PUB", options);
  }

  /** Number of connected peers with at least one subscription. */
  get subscribers(): number {
    let n = 0;
    for (const subs of this.#peers.values()) if (subs.size > 0) n++;
    return n;
  }

  /**
   * Queues `frames` for every matching subscriber with room and returns how many got it.
   * The frames are shared by all peers and not copied: do not change them after the call.
   */
  send(frames: Uint8Array[]): number {
    assertFrames(frames, "PUB socket");
    if (this.closed) throw new TypeError("Cannot send: the PUB socket is closed");
    const topic = frames[0];
    const hwm = this.opts.hwm;
    let sent = 0;
    for (const [c, subs] of this.#peers) {
      if (!subs.matches(topic)) continue;
      if (c.queued >= hwm) {
        this.stats.droppedHwm++;
        continue;
      }
      c.send(frames);
      sent++;
    }
    if (sent > 0) {
      let bytes = 0;
      for (const frame of frames) bytes += frame.length;
      this.stats.messagesOut += sent;
      this.stats.bytesOut += bytes * sent;
    }
    return sent;
  }

  protected override onReady(c: Connection): void {
    this.#peers.set(c, new Subscriptions());
  }

  protected override onClosed(c: Connection): void {
    this.#peers.delete(c);
  }

  protected override onCommand(c: Connection, name: string, data: Uint8Array): void {
    this.#subscription(c, name === "SUBSCRIBE", data);
  }

  /** 3.0 peers (and some 3.1 ones) send subscriptions as one-frame messages. */
  protected override onMessage(c: Connection, frames: Uint8Array[]): void {
    const first = frames[0]!;
    if (frames.length !== 1 || first.length === 0 || first[0]! > 1) return;
    this.#subscription(c, first[0] === 1, first.subarray(1));
  }

  #subscription(c: Connection, on: boolean, prefix: Uint8Array): void {
    const subs = this.#peers.get(c);
    if (subs === undefined) return;
    if (on) subs.add(prefix);
    else subs.remove(prefix);
    this.host.log(on ? "subscribe" : "cancel", { peer: c.peer, prefix: latin1(prefix) });
  }
}
