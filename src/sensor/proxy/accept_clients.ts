import { clientIp } from "../wire/client_ip.ts";
import { ConnIo, IoTimeout } from "./conn_io.ts";
import type { ListenerConfig, ProxyContext } from "./proxy_context.ts";
import { ProxyProtocolError, readProxyHeader } from "./proxy_protocol.ts";

/** A client connection accepted, admitted, and with its real address known. */
export interface Accepted {
  io: ConnIo;
  /** Client address (from the PROXY header when the listener takes one). */
  client: string;
  clientPort: number;
  /** The listener's local address (what the client connected to). */
  local: Deno.NetAddr;
  /** TLS cipher name, "" for plain TCP. */
  cipher: string;
}

/** Binds a listener: TLS when it has a certificate and key, plain TCP otherwise. */
export async function listen(config: ListenerConfig): Promise<Deno.Listener> {
  if (config.tlsCert !== "") {
    const [cert, key] = await Promise.all([
      Deno.readTextFile(config.tlsCert),
      Deno.readTextFile(config.tlsKey),
    ]);
    return Deno.listenTls({ hostname: config.hostname, port: config.port, cert, key });
  }
  return Deno.listen({ hostname: config.hostname, port: config.port });
}

/**
 * Accepts connections of `listener` until it closes, handing each admitted one to `handle`:
 * the PROXY header read when configured (within the header timeout), then the per-IP limit.
 * A refused or failed start is counted and closed here; `handle` owns the rest.
 */
export async function acceptClients(
  listener: Deno.Listener,
  config: ListenerConfig,
  ctx: ProxyContext,
  handle: (accepted: Accepted) => Promise<void>,
  live: Set<Promise<void>>,
): Promise<void> {
  for (;;) {
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
    } catch (error) {
      if (error instanceof Deno.errors.BadResource) return; // closed
      // A failed TLS handshake or a reset before accept: count it and keep serving.
      ctx.metrics.aborted(config.name, "accept_error");
      ctx.log.limited(`proxy-accept:${config.name}`, "warn", "accept failed", {
        listener: config.name,
        error: (error as Error).message,
      });
      continue;
    }
    const task = start(conn, config, ctx, handle).catch((error) => {
      ctx.log.limited(`proxy-conn:${config.name}`, "error", "connection failed", {
        listener: config.name,
        error: (error as Error).message,
      });
    });
    live.add(task);
    void task.finally(() => live.delete(task));
  }
}

async function start(
  conn: Deno.Conn,
  config: ListenerConfig,
  ctx: ProxyContext,
  handle: (accepted: Accepted) => Promise<void>,
): Promise<void> {
  // No Nagle delay for a response's last small segment or a WebSocket message (nginx's
  // tcp_nodelay on); the proxy gathers its own writes.
  (conn as Partial<Deno.TcpConn>).setNoDelay?.(true);
  const io = new ConnIo(conn);
  io.writeTimeout = ctx.limits.sendTimeoutMs;
  const peer = conn.remoteAddr as Deno.NetAddr;
  let client = clientIp(peer.hostname) ?? peer.hostname;
  let clientPort = peer.port;
  ctx.metrics.connection(config.name);
  let cipher = "";
  if ("handshake" in conn) {
    io.setDeadline(ctx.limits.headerTimeoutMs, "header");
    try {
      await (conn as Deno.TlsConn).handshake();
      cipher = "TLS";
    } catch {
      ctx.metrics.aborted(config.name, "tls_handshake");
      io.close();
      return;
    }
  }
  if (config.proxyProtocol) {
    io.setDeadline(ctx.limits.headerTimeoutMs, "header");
    try {
      const got = await readProxyHeader(io);
      if (got.source !== undefined) {
        client = clientIp(got.source) ?? client;
        clientPort = got.sourcePort ?? clientPort;
      }
    } catch (error) {
      if (error instanceof IoTimeout) ctx.metrics.timeout(config.name, error.kind);
      else if (error instanceof ProxyProtocolError) {
        ctx.metrics.refused(config.name, "proxy_protocol");
      } else ctx.metrics.aborted(config.name, "client_error");
      io.close();
      return;
    }
  }
  io.clearDeadline();
  if (!ctx.registry.admit(client, io)) {
    ctx.metrics.refused(config.name, "per_ip_limit");
    io.close();
    return;
  }
  io.onClose = () => ctx.registry.release(client, io);
  try {
    await handle({ io, client, clientPort, local: conn.localAddr as Deno.NetAddr, cipher });
  } finally {
    ctx.metrics.bytes(config.name, "in", io.bytesIn);
    ctx.metrics.bytes(config.name, "out", io.bytesOut);
    io.close();
  }
}
