/**
 * A hand-driven TCP peer for hostile and ZMTP 3.0 tests: writes exact bytes, reads exact bytes.
 * @module
 */

import { deadline } from "./_events.ts";

/** ZMTP greeting bytes with a chosen version and mechanism. */
export function greetingBytes(major = 3, minor = 1, mechanism = "NULL"): Uint8Array {
  const g = new Uint8Array(64);
  g[0] = 0xff;
  g[9] = 0x7f;
  g[10] = major;
  g[11] = minor;
  g.set(new TextEncoder().encode(mechanism), 12);
  return g;
}

/** One frame (short or long) with the given flags (MORE=1, COMMAND=4). */
export function frameBytes(flags: number, body: Uint8Array): Uint8Array {
  if (body.length > 255) {
    const out = new Uint8Array(9 + body.length);
    out[0] = flags | 2;
    new DataView(out.buffer).setBigUint64(1, BigInt(body.length));
    out.set(body, 9);
    return out;
  }
  const out = new Uint8Array(2 + body.length);
  out[0] = flags;
  out[1] = body.length;
  out.set(body, 2);
  return out;
}

/** A command frame: name-length, name, data. */
export function commandBytes(name: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const n = new TextEncoder().encode(name);
  const body = new Uint8Array(1 + n.length + data.length);
  body[0] = n.length;
  body.set(n, 1);
  body.set(data, 1 + n.length);
  return frameBytes(4, body);
}

/** READY announcing `socketType`. */
export function readyBytes(socketType: string): Uint8Array {
  const name = new TextEncoder().encode("Socket-Type");
  const value = new TextEncoder().encode(socketType);
  const data = new Uint8Array(1 + name.length + 4 + value.length);
  data[0] = name.length;
  data.set(name, 1);
  new DataView(data.buffer).setUint32(1 + name.length, value.length);
  data.set(value, 5 + name.length);
  return commandBytes("READY", data);
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A raw TCP peer. */
export interface RawPeer {
  write(bytes: Uint8Array): Promise<void>;
  /** Reads exactly `n` bytes within `ms`. */
  read(n: number, ms?: number): Promise<Uint8Array>;
  /** Resolves when the other side closes the connection (reads and discards until EOF). */
  closedByPeer(ms?: number): Promise<void>;
  close(): void;
}

/** Connects a raw peer to a `tcp://host:port` endpoint. */
export async function rawPeer(endpoint: string): Promise<RawPeer> {
  const match = /^tcp:\/\/\[?([^\]]+?)\]?:(\d+)$/.exec(endpoint)!;
  const conn = await Deno.connect({ hostname: match[1]!, port: Number(match[2]) });
  let buffered: Uint8Array = new Uint8Array(0);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    conn.close();
  };
  return {
    async write(bytes) {
      let o = 0;
      while (o < bytes.length) o += await conn.write(bytes.subarray(o));
    },
    read(n, ms = 10_000) {
      return deadline(
        (async () => {
          while (buffered.length < n) {
            const chunk = new Uint8Array(65536);
            const got = await conn.read(chunk);
            if (got === null) throw new Error(`peer closed after ${buffered.length} of ${n} bytes`);
            buffered = concat(buffered, chunk.subarray(0, got));
          }
          const out = buffered.slice(0, n);
          buffered = buffered.slice(n);
          return out;
        })(),
        ms,
        `${n} bytes`,
      ).catch((error) => {
        close();
        throw error;
      });
    },
    closedByPeer(ms = 10_000) {
      return deadline(
        (async () => {
          const chunk = new Uint8Array(65536);
          try {
            while ((await conn.read(chunk)) !== null) { /* discard */ }
          } catch {
            // A reset counts as closed.
          }
          close();
        })(),
        ms,
        "the peer to close the connection",
      ).catch((error) => {
        close();
        throw error;
      });
    },
    close,
  };
}
