import type { Accepted } from "./accept_clients.ts";
import { ProxyListener } from "./_proxy_listener.ts";
import { connectUpstream } from "./connect_upstream.ts";
import { encodeProxyHeader } from "./proxy_protocol.ts";
import { connectionRecord } from "./proxy_records.ts";
import { tunnel } from "./tunnel.ts";

let sequence = 0;
const RUN = crypto.randomUUID().slice(0, 8);

/**
 * A plain TCP listener (`[proxy:tcp:<name>]`): any protocol, bytes copied both ways to an
 * upstream of its pool. A banned client is refused at accept (the connection is closed before
 * any byte goes anywhere); each connection is a record at open and at close (bytes both ways),
 * so the sensor's filters can count connections per IP.
 */
export class TcpProxy extends ProxyListener {
  protected async serve(a: Accepted): Promise<void> {
    const ctx = this.ctx;
    const name = this.config.name;
    if (ctx.bans.banned(a.client)) {
      ctx.metrics.refused(name, "banned");
      return;
    }
    const seen = {
      id: `${RUN}-t${++sequence}`,
      listener: name,
      client: a.client,
      clientPort: a.clientPort,
      serverPort: a.local.port,
      at: Date.now(),
    };
    this.submit(connectionRecord(seen));
    const pp = this.config.upstreamProxyProtocol;
    const got = await connectUpstream(ctx, name, this.pool, a.client, {
      preface: pp === 0
        ? undefined
        : () =>
          encodeProxyHeader(pp, { ip: a.client, port: a.clientPort }, {
            ip: a.local.hostname,
            port: a.local.port,
          }),
    });
    if (!got) {
      ctx.metrics.refused(name, "no_upstream");
      this.submit(
        connectionRecord(seen, {
          status: 502,
          bytesIn: 0,
          bytesOut: 0,
          upstream: "",
          at: Date.now(),
        }),
      );
      return;
    }
    this.pool.acquire(got.upstream);
    try {
      await got.io.flush();
      this.pool.reportSuccess(got.upstream);
      const end = await tunnel(a.io, got.io, ctx.limits.tunnelIdleMs);
      ctx.metrics.tunnel(name, end);
      if (end === "idle") ctx.metrics.timeout(name, "idle");
    } finally {
      this.pool.release(got.upstream);
    }
    this.submit(connectionRecord(seen, {
      status: 200,
      bytesIn: a.io.bytesIn,
      bytesOut: a.io.bytesOut,
      upstream: got.upstream.address,
      at: Date.now(),
    }));
  }
}
