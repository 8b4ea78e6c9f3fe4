import type { ConnIo } from "./conn_io.ts";

/** How a tunnel ended. */
export type TunnelEnd = "closed" | "idle" | "error";

async function pump(from: ConnIo, to: ConnIo, touch: () => void): Promise<void> {
  for (;;) {
    if (from.buffered === 0 && !(await from.fill())) break;
    touch();
    // Straight from the read buffer to the socket: the next read waits for this write anyway.
    await to.send(from.take(from.buffered));
  }
  // Half-close: the other direction may still have an answer to send (a TCP client that shuts
  // its write side after a request, then reads).
  try {
    await (to.socket as Partial<Deno.Conn>).closeWrite?.();
  } catch { /* the peer is gone */ }
}

/**
 * Copies bytes both ways between `a` and `b` until both directions end, one fails, or no byte
 * moves either way for `idleMs` (0 = no limit). Used for WebSocket upgrades and TCP listeners:
 * the proxy does not look inside. Closes both sockets at the end.
 */
export async function tunnel(a: ConnIo, b: ConnIo, idleMs: number): Promise<TunnelEnd> {
  a.readTimeout = 0;
  b.readTimeout = 0;
  let last = Date.now();
  let end: TunnelEnd = "closed";
  const touch = () => {
    last = Date.now();
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const check = () => {
    const quiet = Date.now() - last;
    if (quiet >= idleMs) {
      end = "idle";
      a.close();
      b.close();
    } else timer = setTimeout(check, idleMs - quiet);
  };
  if (idleMs > 0) timer = setTimeout(check, idleMs);
  const fail = () => {
    if (end === "closed") end = "error";
    a.close();
    b.close();
  };
  try {
    await Promise.all([pump(a, b, touch).catch(fail), pump(b, a, touch).catch(fail)]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    a.close();
    b.close();
  }
  return end;
}
