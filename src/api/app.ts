import { Hono } from "hono";
import type { ConfigStore } from "../config/config_store.ts";
import type { Pipeline } from "../ingest/pipeline.ts";
import type { ListManager } from "../lm/list_manager.ts";
import type { Logger } from "../log/logger.ts";
import type { Metrics } from "../metrics/prometheus.ts";
import { VERSION } from "../version.ts";

/** What the REST API drives; the API reads and changes config and bans, never the other way. */
export interface ApiDeps {
  store: ConfigStore;
  pipeline: Pipeline;
  lm: ListManager;
  metrics: Metrics;
  log: Logger;
  /** Bearer token; empty = no authentication (loopback only, enforced by settings). */
  token: string;
  /** Milliseconds since start, for /healthz. */
  uptime(): number;
}

/** The sensor's REST API (seed §4, SPEC §7) as a Hono app; served by `qts serve`. */
export function createApi(deps: ApiDeps): Hono {
  const app = new Hono();
  app.get(
    "/healthz",
    (c) => c.json({ status: "success", version: VERSION, uptime_ms: deps.uptime() }),
  );
  app.get(
    "/metrics",
    (c) => c.text(deps.metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }),
  );
  return app;
}
