/**
 * Receiving side shared by PULL and SUB: a fair queue over peers and the async-iterator API.
 * @module
 */

import type { Connection } from "./_connection.ts";
import { Deque } from "./_deque.ts";
import { SocketBase } from "./_socket_base.ts";

type Waiter = (message: Uint8Array[] | undefined) => void;

/**
 * Fair-queued receiver: each peer has its own queue (up to `hwm` messages, then its reader
 * pauses), and messages are taken round-robin from the peers that have some, so a fast peer
 * cannot starve a slow one. Messages of one peer keep their order.
 */
export abstract class ReceiverSocket extends SocketBase implements AsyncIterable<Uint8Array[]> {
  /** Peers with a non-empty inbox, each at most once, in round-robin order. */
  readonly #ready = new Deque<Connection>();
  readonly #waiters = new Deque<Waiter>();

  /** Takes the next message if one is queued, without waiting. */
  tryReceive(): Uint8Array[] | undefined {
    const c = this.#ready.shift();
    if (c === undefined) return undefined;
    const message = c.inbox.shift()!;
    if (c.inbox.length > 0) this.#ready.push(c);
    if (c.inbox.length < this.opts.hwm) c.resume();
    return message;
  }

  /**
   * Waits for the next message: an array of frames, which may be views into a shared receive
   * buffer (copy with `slice()` what you keep for long). Resolves undefined once the socket is
   * closed and everything received before has been taken.
   */
  receive(): Promise<Uint8Array[] | undefined> {
    const message = this.tryReceive();
    if (message !== undefined || this.closed) return Promise.resolve(message);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** `for await (const frames of socket)`; ends when the socket is closed. Breaking out does not close it. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array[]> {
    const done: IteratorReturnResult<undefined> = { value: undefined, done: true };
    return {
      next: (): Promise<IteratorResult<Uint8Array[]>> => {
        const message = this.tryReceive();
        if (message !== undefined) return Promise.resolve({ value: message, done: false });
        if (this.closed) return Promise.resolve(done);
        return new Promise((resolve) =>
          this.#waiters.push((m) => resolve(m === undefined ? done : { value: m, done: false }))
        );
      },
      return: (): Promise<IteratorResult<Uint8Array[]>> => Promise.resolve(done),
    };
  }

  /** Queues a received message from `c` (after any filtering by the subclass). */
  protected deliver(c: Connection, frames: Uint8Array[]): void {
    this.stats.messagesIn++;
    for (const frame of frames) this.stats.bytesIn += frame.length;
    const waiter = this.#waiters.shift();
    // A waiter only exists while every inbox is empty, so handing over directly is fair.
    if (waiter !== undefined) {
      waiter(frames);
      return;
    }
    if (c.inbox.length === 0) this.#ready.push(c);
    c.inbox.push(frames);
  }

  protected override onClose(): void {
    for (let w = this.#waiters.shift(); w !== undefined; w = this.#waiters.shift()) w(undefined);
  }
}
