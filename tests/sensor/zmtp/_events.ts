/**
 * Test helpers: a logger that records socket events and lets a test await one, and a bounded
 * wait for any promise. No sleeps: tests wait for what the sockets report.
 * @module
 */

import type { ZmtpLogger } from "../../../src/sensor/zmtp/mod.ts";

/** A recorded logger event. */
export interface LoggedEvent {
  event: string;
  fields: Record<string, unknown>;
}

/** Records events; `waitFor` resolves on a matching one (already seen or future). */
export interface EventLog {
  readonly logger: ZmtpLogger;
  readonly seen: LoggedEvent[];
  count(event: string, match?: (fields: Record<string, unknown>) => boolean): number;
  /** Resolves once `n` matching events have been seen; rejects after `ms`. */
  waitFor(
    event: string,
    match?: (fields: Record<string, unknown>) => boolean,
    n?: number,
    ms?: number,
  ): Promise<void>;
}

/** Creates an event log for one or more sockets. */
export function eventLog(): EventLog {
  const seen: LoggedEvent[] = [];
  const waiters = new Set<() => void>();
  const count = (event: string, match?: (fields: Record<string, unknown>) => boolean) =>
    seen.filter((e) => e.event === event && (match === undefined || match(e.fields))).length;
  return {
    seen,
    logger: (event, fields) => {
      seen.push({ event, fields });
      for (const wake of [...waiters]) wake();
    },
    count,
    waitFor(event, match, n = 1, ms = 10_000) {
      return deadline(
        new Promise<void>((resolve) => {
          const check = () => {
            if (count(event, match) >= n) {
              waiters.delete(check);
              resolve();
            }
          };
          waiters.add(check);
          check();
        }),
        ms,
        `${n} "${event}" event(s)`,
      ).finally(() => waiters.clear());
    },
  };
}

/** Rejects with a message naming `what` if `promise` does not settle within `ms`. */
export async function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Receives `n` messages from a receiver within `ms`. */
export async function receiveN(
  socket: { receive(): Promise<Uint8Array[] | undefined> },
  n: number,
  ms = 20_000,
): Promise<Uint8Array[][]> {
  const out: Uint8Array[][] = [];
  await deadline(
    (async () => {
      while (out.length < n) {
        const m = await socket.receive();
        if (m === undefined) throw new Error(`socket closed after ${out.length} of ${n} messages`);
        out.push(m);
      }
    })(),
    ms,
    `${n} messages (got ${out.length})`,
  );
  return out;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
/** UTF-8 bytes. */
export const b = (s: string): Uint8Array => enc.encode(s);
/** UTF-8 text. */
export const t = (bytes: Uint8Array): string => dec.decode(bytes);
/** Sequence number of a generated message ([first, u32 BE seq + padding]). */
export const seqOf = (m: Uint8Array[]): number =>
  new DataView(m[1]!.buffer, m[1]!.byteOffset).getUint32(0);
