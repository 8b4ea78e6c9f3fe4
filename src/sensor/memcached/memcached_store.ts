import { MemcachedClient } from "./memcached_client.ts";

/**
 * The pipeline's opener of shared stores for filters: a {@linkcode MemcachedClient} per
 * `host:port` whose connection changes are logged.
 */
export function memcachedStore(
  log?: (level: "info" | "warn", msg: string, fields: Record<string, unknown>) => void,
): (server: string, timeoutMs: number) => MemcachedClient {
  return (server, timeoutMs) =>
    new MemcachedClient({
      server,
      timeoutMs,
      onState(state, error) {
        if (state !== "down" && state !== "up") return;
        log?.(state === "down" ? "warn" : "info", `memcached ${state}`, {
          server,
          ...(error === undefined ? {} : { error: String(error) }),
        });
      },
    });
}
