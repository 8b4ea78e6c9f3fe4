import type { HttpRecord } from "../wire/record.ts";
import { acceptClients, type Accepted, listen } from "./accept_clients.ts";
import type { ListenerConfig, ProxyContext } from "./proxy_context.ts";
import type { UpstreamPicker } from "./upstream_picker.ts";

/**
 * What HTTP and TCP listeners share: binding (TLS or not), the accept loop, waiting for open
 * connections at close, and handing records to the sink with the result counted.
 */
export abstract class ProxyListener {
  readonly config: ListenerConfig;
  protected readonly ctx: ProxyContext;
  protected readonly pool: UpstreamPicker;
  readonly #live = new Set<Promise<void>>();
  #listener: Deno.Listener | undefined;
  #loop: Promise<void> | undefined;
  /** The bound address (the real port when configured with 0). */
  addr: Deno.NetAddr | undefined;

  constructor(config: ListenerConfig, ctx: ProxyContext, pool: UpstreamPicker) {
    this.config = config;
    this.ctx = ctx;
    this.pool = pool;
  }

  /** Serves one admitted client connection. */
  protected abstract serve(accepted: Accepted): Promise<void>;

  /** Binds and starts accepting. */
  async start(): Promise<void> {
    this.#listener = await listen(this.config);
    this.addr = this.#listener.addr as Deno.NetAddr;
    this.#loop = acceptClients(
      this.#listener,
      this.config,
      this.ctx,
      (a) => this.serve(a),
      this.#live,
    );
  }

  /** Stops accepting and waits for open connections to end. */
  async close(): Promise<void> {
    try {
      this.#listener?.close();
    } catch { /* closed */ }
    await this.#loop;
    await Promise.all(this.#live);
  }

  /** Hands a record to the sink, if any, counting the result. */
  protected submit(record: HttpRecord): void {
    const submit = this.ctx.submit;
    if (!submit) return;
    try {
      submit(this.config.domain, record);
      this.ctx.metrics.record(this.config.name, true);
    } catch {
      this.ctx.metrics.record(this.config.name, false);
    }
  }
}
