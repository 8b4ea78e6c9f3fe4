/**
 * SUB socket: receives what its PUB peers publish under the subscribed prefixes.
 * @module
 */

import type { Connection } from "./_connection.ts";
import { encodeCommand, encodeDataFrame } from "./_protocol.ts";
import { ReceiverSocket } from "./_receiver.ts";
import { Subscriptions } from "./_subscriptions.ts";
import type { ZmtpOptions } from "./types.ts";

const encoder = new TextEncoder();

/**
 * ZeroMQ SUB over ZMTP 3.1. Subscriptions are sent to every peer, again to each peer after a
 * reconnect, and also applied locally (so nothing unsubscribed slips through in flight).
 * @example
 * ```ts
 * const sub = new SubSocket();
 * sub.subscribe("http:");
 * sub.connect("tcp://127.0.0.1:4100");
 * for await (const [topic, body] of sub) console.log(topic, body);
 * ```
 */
export class SubSocket extends ReceiverSocket {
  readonly #subs = new Subscriptions();
  readonly #peers = new Set<Connection>();

  /** Creates an unbound, unconnected SUB socket with no subscriptions (it receives nothing). */
  constructor(options: ZmtpOptions = {}) {
    super("SUB", options);
  }

  /** Receives messages whose first frame starts with `prefix` ("" = everything). */
  subscribe(prefix: string | Uint8Array): void {
    const bytes = typeof prefix === "string" ? encoder.encode(prefix) : prefix;
    this.#subs.add(bytes);
    for (const c of this.#peers) this.#tell(c, true, bytes);
  }

  /** Cancels one earlier `subscribe(prefix)`; unknown prefixes are ignored. */
  unsubscribe(prefix: string | Uint8Array): void {
    const bytes = typeof prefix === "string" ? encoder.encode(prefix) : prefix;
    if (!this.#subs.remove(bytes)) return;
    for (const c of this.#peers) this.#tell(c, false, bytes);
  }

  protected override onReady(c: Connection): void {
    this.#peers.add(c);
    for (const prefix of this.#subs) this.#tell(c, true, prefix);
  }

  protected override onClosed(c: Connection): void {
    this.#peers.delete(c);
  }

  protected override onMessage(c: Connection, frames: Uint8Array[]): void {
    if (this.#subs.matches(frames[0])) this.deliver(c, frames);
  }

  #tell(c: Connection, on: boolean, prefix: Uint8Array): void {
    if (c.peerMinor >= 1) {
      c.sendCommand(encodeCommand(on ? "SUBSCRIBE" : "CANCEL", prefix));
      return;
    }
    const body = new Uint8Array(prefix.length + 1);
    body[0] = on ? 1 : 0;
    body.set(prefix, 1);
    c.sendCommand(encodeDataFrame(body));
  }
}
