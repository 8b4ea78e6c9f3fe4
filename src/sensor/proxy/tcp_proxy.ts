import { acceptClients, type Accepted, listen } from "./accept_clients.ts";
import { connectUpstream } from "./connect_upstream.ts";
import type { ListenerConfig, ProxyContext } from "./proxy_context.ts";
import { encodeProxyHeader } from "./proxy_protocol.ts";
import { connectionRecord } from "./proxy_records.ts";
import { tunnel } from "./tunnel.ts";
import type { UpstreamPicker } from "./upstream_picker.ts";

let sequence = 0;
const RUN = crypto.randomUUID().slice(0, 8);

/**
 * A plain TCP listener (`[proxy:tcp:<name>]`): any protocol, bytes copied both ways to an
 * upstream of its pool. A banned client is refused at accept (the connection is closed before
 * any byte goes anywhere); each connection is a record at open and at close (bytes both ways),
 * so the sensor's filters can count connections per IP.
 */
export class TcpProxy {
  readonly config: ListenerConfig;
  readonly #ctx: ProxyContext;
  readonly #pool: UpstreamPicker;
  readonly #live = new Set<Promise<void>>();
  #listener: Deno.Listener | undefined;
  #loop: Promise<void> | undefined;
  /** The bound address (the real port when configured with 0). */
  addr: Deno.NetAddr | undefined;

  constructor(config: ListenerConfig, ctx: ProxyContext, pool: UpstreamPicker) {
    this.config = config;
    this.#ctx = ctx;
    this.#pool = pool;
  }

  /** Binds and starts accepting. */
  async start(): Promise<void> {
    this.#listener = await listen(this.config);
    this.addr = this.#listener.addr as Deno.NetAddr;
    this.#loop = acceptClients(
      this.#listener,
      this.config,
      this.#ctx,
      (a) => this.#serve(a),
      this.#live,
    );
  }

  /** Stops accepting and waits for open tunnels to end. */
  async close(): Promise<void> {
    try {
      this.#listener?.close();
    } catch { /* closed */ }
    await this.#loop;
    await Promise.all(this.#live);
  }

  #submit(record: Parameters<NonNullable<ProxyContext["submit"]>>[1]): void {
    const submit = this.#ctx.submit;
    if (!submit) return;
    try {
      submit(this.config.domain, record);
      this.#ctx.metrics.record(this.config.name, true);
    } catch {
      this.#ctx.metrics.record(this.config.name, false);
    }
  }

  async #serve(a: Accepted): Promise<void> {
    const ctx = this.#ctx;
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
    this.#submit(connectionRecord(seen));
    const pp = this.config.upstreamProxyProtocol;
    const got = await connectUpstream(ctx, name, this.#pool, a.client, {
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
      this.#submit(
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
    this.#pool.acquire(got.upstream);
    try {
      await got.io.flush();
      this.#pool.reportSuccess(got.upstream);
      const end = await tunnel(a.io, got.io, ctx.limits.tunnelIdleMs);
      ctx.metrics.tunnel(name, end);
      if (end === "idle") ctx.metrics.timeout(name, "idle");
    } finally {
      this.#pool.release(got.upstream);
    }
    this.#submit(connectionRecord(seen, {
      status: 200,
      bytesIn: a.io.bytesIn,
      bytesOut: a.io.bytesOut,
      upstream: got.upstream.address,
      at: Date.now(),
    }));
  }
}
