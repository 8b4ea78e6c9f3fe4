import { ConnIo } from "./conn_io.ts";
import type { ProxyContext } from "./proxy_context.ts";
import type { PickedUpstream, UpstreamPicker } from "./upstream_picker.ts";

/** An upstream connection ready to use, with what it took to get it. */
export interface UpstreamConn {
  upstream: PickedUpstream;
  io: ConnIo;
  /** Upstreams that failed before this one, with their connect times (ms). */
  failed: { address: string; ms: number }[];
  /** When the connect to `upstream` started (ms since the epoch). */
  startedAt: number;
}

/** Opens a TCP connection to `u`, giving up after `timeoutMs` (0 = the system's limit). */
export async function dial(u: PickedUpstream, timeoutMs: number): Promise<Deno.TcpConn> {
  const connecting = Deno.connect({ hostname: u.hostname, port: u.port });
  if (timeoutMs <= 0) return await connecting;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Deno.errors.TimedOut(`connect to ${u.address}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([connecting, timeout]);
  } catch (error) {
    // A connect that completes after we gave up must not leak its socket.
    connecting.then((c) => c.close(), () => {});
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Connects to an upstream of `pool` for `client`: on a failed connect the upstream is reported
 * to the pool (passive ejection), counted, and the next one is tried, up to `limits.retries`
 * more. Nothing has been sent when a connect fails, so any request may go to the next one.
 * `options.preface` (a PROXY protocol header) is written first. Undefined when none could be reached.
 */
export async function connectUpstream(
  ctx: ProxyContext,
  listener: string,
  pool: UpstreamPicker,
  client: string,
  options: {
    /** Bytes to send first (a PROXY protocol header). */
    preface?: ((u: PickedUpstream, local: Deno.NetAddr) => Uint8Array | undefined) | undefined;
    /** The upstream already picked for the first attempt. */
    first?: PickedUpstream | undefined;
  } = {},
): Promise<UpstreamConn | undefined> {
  const exclude = new Set<PickedUpstream>();
  const failed: { address: string; ms: number }[] = [];
  for (let attempt = 0; attempt <= ctx.limits.retries; attempt++) {
    const u = attempt === 0 && options.first ? options.first : pool.pick(client, exclude);
    if (!u) break;
    if (attempt > 0) ctx.metrics.retry(listener);
    const startedAt = Date.now();
    try {
      const conn = await dial(u, ctx.limits.connectTimeoutMs);
      conn.setNoDelay(true);
      const io = new ConnIo(conn);
      io.writeTimeout = ctx.limits.sendTimeoutMs;
      const header = options.preface?.(u, conn.localAddr as Deno.NetAddr);
      if (header) await io.write(header);
      return { upstream: u, io, failed, startedAt };
    } catch (error) {
      const timedOut = error instanceof Deno.errors.TimedOut;
      ctx.metrics.upstreamError(listener, u.address, timedOut ? "connect_timeout" : "connect");
      ctx.log.limited(`proxy-connect:${u.address}`, "warn", "upstream connect failed", {
        listener,
        upstream: u.address,
        error: (error as Error).message,
      });
      pool.reportFailure(u);
      exclude.add(u);
      failed.push({ address: u.address, ms: Date.now() - startedAt });
    }
  }
  return undefined;
}
