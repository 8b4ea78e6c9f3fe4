/**
 * An in-memory `Deno.Conn` for the targets that drive real socket code: reads hand out the
 * input in chunks whose sizes follow from the input alone (so a saved input replays the same
 * way), then EOF; writes are collected, partial now and then as a real socket's are.
 * @module
 */

import { createRng, type Rng } from "./_random.ts";

/** An in-memory Deno.Conn: reads return `bytes` in chunks, then EOF; writes are collected. */
export class MemoryConn {
  readonly remoteAddr = { transport: "tcp", hostname: "192.0.2.1", port: 40000 };
  readonly localAddr = { transport: "tcp", hostname: "127.0.0.1", port: 4100 };
  written: Uint8Array[] = [];
  closed = false;
  #at = 0;
  readonly #bytes: Uint8Array;
  readonly #chunk: Rng;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    // Chunk sizes follow from the input alone, so a saved input replays the same way.
    let h = bytes.length;
    for (let i = 0; i < Math.min(bytes.length, 16); i++) h = Math.imul(h ^ bytes[i]!, 16777619);
    this.#chunk = createRng(h);
  }

  setNoDelay(): void {}

  read(p: Uint8Array): Promise<number | null> {
    if (this.closed) return Promise.reject(new Deno.errors.BadResource("Bad resource ID"));
    if (this.#at >= this.#bytes.length) return Promise.resolve(null);
    const want = this.#chunk.chance(0.5)
      ? this.#bytes.length
      : 1 + this.#chunk.below(this.#chunk.pick([3, 70, 600]));
    const n = Math.min(p.length, this.#bytes.length - this.#at, want);
    p.set(this.#bytes.subarray(this.#at, this.#at + n));
    this.#at += n;
    return Promise.resolve(n);
  }

  write(p: Uint8Array): Promise<number> {
    if (this.closed) return Promise.reject(new Deno.errors.BadResource("Bad resource ID"));
    // Partial writes now and then, as a real socket does under load.
    const n = p.length > 8 && this.#chunk.chance(0.2) ? 1 + this.#chunk.below(p.length) : p.length;
    this.written.push(p.slice(0, n));
    return Promise.resolve(n);
  }

  close(): void {
    if (this.closed) throw new Deno.errors.BadResource("Bad resource ID");
    this.closed = true;
  }
}
