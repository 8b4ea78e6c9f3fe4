import type { Metrics } from "../../shared/metrics/metrics.ts";

/** Options of {@linkcode serveMetrics}. */
export interface ServeMetricsOptions {
  /** Address to listen on, e.g. `127.0.0.1`. */
  hostname: string;
  /** Port; 0 picks a free one (tests). */
  port: number;
}

/**
 * Serves `metrics` as Prometheus text on `GET /metrics` (anything else is a 404), for a process
 * without a REST API of its own such as `qts bouncer`. Resolves once it listens; the server's
 * `addr` has the real port.
 *
 * @example
 * ```ts
 * const server = await serveMetrics(bouncer.metrics, { hostname: "127.0.0.1", port: 9101 });
 * await server.shutdown();
 * ```
 */
export async function serveMetrics(
  metrics: Metrics,
  options: ServeMetricsOptions,
): Promise<Deno.HttpServer<Deno.NetAddr>> {
  const listening = Promise.withResolvers<void>();
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: () => listening.resolve(),
  }, (request) => {
    const { pathname } = new URL(request.url);
    if (request.method !== "GET" || pathname !== "/metrics") {
      return new Response("not found; try GET /metrics\n", { status: 404 });
    }
    return new Response(metrics.render(), {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  });
  await listening.promise;
  return server;
}
