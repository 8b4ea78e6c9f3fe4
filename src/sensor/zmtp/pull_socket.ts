/**
 * PULL socket: receives messages fair-queued from every connected PUSH peer.
 * @module
 */

import type { Connection } from "./_connection.ts";
import { ReceiverSocket } from "./_receiver.ts";
import type { ZmtpOptions } from "./types.ts";

/**
 * ZeroMQ PULL over ZMTP 3.1: bind or connect (or both, many times), then iterate.
 * @example
 * ```ts
 * const pull = new PullSocket({ maxFrame: 1 << 20, hwm: 10_000 });
 * await pull.bind("tcp://127.0.0.1:4100");
 * for await (const [header, body] of pull) console.log(header, body);
 * ```
 */
export class PullSocket extends ReceiverSocket {
  /** Creates an unbound, unconnected PULL socket. */
  constructor(options: ZmtpOptions = {}) {
    super("PULL", options);
  }

  protected override onMessage(c: Connection, frames: Uint8Array[]): void {
    this.deliver(c, frames);
  }
}
