import { Hono } from "hono";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { COMPONENT_NAMES, isComponentName } from "../config/components.ts";
import { type ConfigStore, isDomainId } from "../config/config_store.ts";
import {
  completeComponents,
  componentsFromObject,
  parseComponent,
} from "../config/load_components.ts";
import type { Pipeline } from "../ingest/pipeline.ts";
import type { ListManager } from "../lm/list_manager.ts";
import type { Logger } from "../log/logger.ts";
import type { Metrics } from "../metrics/prometheus.ts";
import { ipKey } from "../net/ip.ts";
import { VERSION } from "../version.ts";

/** What the REST API drives; the API reads and changes config and bans, never the other way. */
export interface ApiDeps {
  store: ConfigStore;
  pipeline: Pipeline;
  lm: ListManager;
  metrics: Metrics;
  log: Logger;
  /** Bearer token; empty = no authentication (allowed on loopback only, see settings). */
  token: string;
  /** Milliseconds since start, for /healthz. */
  uptime(): number;
  /** Extra per-domain statistics (statstore_http_stats), merged into GET /stats/<domain>. */
  stats?(domainId: number): Record<string, unknown>;
  /** Largest accepted request body. Default 1 MiB. */
  maxBody?: number;
}

/** An API error: the seed's `{"status":"error","exception":…}` with HTTP 400 unless stated. */
class ApiError extends Error {
  constructor(message: string, readonly status: 400 | 401 | 404 = 400) {
    super(message);
  }
}

function domainParam(c: Context): number {
  const text = c.req.param("domain") ?? "";
  if (!isDomainId(text)) {
    throw new ApiError(`domain "${text}" is not a domain id (a decimal integer)`);
  }
  return Number(text);
}

function componentParam(c: Context): string {
  const name = c.req.param("component") ?? "";
  if (!isComponentName(name)) {
    throw new ApiError(
      `unknown component "${name}" (known: ${COMPONENT_NAMES.join(", ")})`,
    );
  }
  return name;
}

function rewriteParam(c: Context): boolean {
  const value = c.req.query("rewrite");
  if (value === undefined || value === "0") return false;
  if (value === "1") return true;
  throw new ApiError(`rewrite must be 0 or 1, not "${value}"`);
}

async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(`invalid JSON body: ${(error as Error).message}`);
  }
}

function timingSafeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * The sensor's REST API (seed §4, SPEC §7) as a Hono app, tested in memory with
 * `app.request()` and served by `qts serve`. Every error answers
 * `{"status":"error","exception":"<what and where>"}`; a rejected change changes nothing.
 */
export function createApi(deps: ApiDeps): Hono {
  const { store, pipeline, lm } = deps;
  const maxBody = deps.maxBody ?? 1 << 20;
  const app = new Hono();

  app.onError((error, c) => {
    if (error instanceof ApiError) {
      return c.json({ status: "error", exception: error.message }, error.status);
    }
    deps.metrics.inc("qts_api_errors_total", "API requests that failed", {});
    deps.log.limited("api-error", "warn", "API request failed", {
      path: c.req.path,
      error: (error as Error).message,
    });
    return c.json({ status: "error", exception: (error as Error).message }, 400);
  });
  app.notFound((c) =>
    c.json({ status: "error", exception: `no endpoint ${c.req.method} ${c.req.path}` }, 404)
  );

  app.get(
    "/healthz",
    (c) => c.json({ status: "success", version: VERSION, uptime_ms: deps.uptime() }),
  );

  if (deps.token !== "") {
    app.use("*", async (c, next) => {
      const header = c.req.header("authorization") ?? "";
      const given = header.startsWith("Bearer ") ? header.slice(7) : "";
      if (!timingSafeEqual(given, deps.token)) {
        throw new ApiError(
          "missing or wrong bearer token (Authorization: Bearer <api_token>)",
          401,
        );
      }
      await next();
    });
  }
  app.use(
    "*",
    bodyLimit({
      maxSize: maxBody,
      onError: () => {
        throw new ApiError(`request body exceeds the limit of ${maxBody} bytes`);
      },
    }),
  );

  app.get(
    "/metrics",
    (c) => c.text(deps.metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }),
  );

  app.get("/filters", (c) => c.json({ status: "success", data: store.domains() }));

  const knownDomain = (c: Context): number => {
    const id = domainParam(c);
    if (!store.hasDomain(id)) throw new ApiError(`unknown domain ${id}`);
    return id;
  };

  app.get("/filters/:domain", (c) => {
    const id = knownDomain(c);
    return c.json({ status: "success", data: store.domainConfig(id) });
  });

  app.put("/filters/:domain", async (c) => {
    const id = domainParam(c);
    const rewrite = rewriteParam(c);
    const body = await jsonBody(c);
    const partial = componentsFromObject(body, `domain ${id}`);
    await pipeline.check(id, completeComponents(partial, store.global));
    await store.putDomain(id, body, rewrite);
    await pipeline.reconfigure(id);
    return c.json({ status: "success" });
  });

  app.delete("/filters/:domain", async (c) => {
    const id = knownDomain(c);
    store.deleteDomain(id);
    await Promise.resolve();
    return c.json({ status: "success" });
  });

  app.get("/filters/:domain/:component", (c) => {
    const id = knownDomain(c);
    const name = componentParam(c) as keyof ReturnType<ConfigStore["domainConfig"]>;
    return c.json({ status: "success", data: store.domainConfig(id)[name] });
  });

  app.put("/filters/:domain/:component", async (c) => {
    const id = domainParam(c);
    const name = componentParam(c);
    const rewrite = rewriteParam(c);
    const body = await jsonBody(c);
    const value = parseComponent(name, body, `domain ${id}`);
    const candidate = { ...store.ownComponents(id), [name]: value };
    await pipeline.check(id, completeComponents(candidate, store.global));
    await store.putComponent(id, name, body, rewrite);
    await pipeline.reconfigure(id);
    return c.json({ status: "success" });
  });

  const reload = (what: "filters" | "components") => async (c: Context) => {
    const problems = what === "filters"
      ? await store.reloadFilters()
      : await store.reloadComponents();
    for (const p of problems) deps.log.log("error", `${what} file rejected`, { ...p });
    deps.metrics.inc("qts_reloads_total", "Configuration reloads", {
      what,
      result: problems.length ? "error" : "ok",
    });
    if (problems.length > 0) {
      throw new ApiError(
        `${problems.length} file(s) rejected, last good configuration kept: ` +
          problems.map((p) => p.message.startsWith(p.file) ? p.message : `${p.file}: ${p.message}`)
            .join("; "),
      );
    }
    return c.json({ status: "success" });
  };
  app.post("/reload_filters", reload("filters"));
  app.post("/reload_components", reload("components"));

  app.get("/stats/:domain", (c) => {
    const id = domainParam(c);
    return c.json({
      status: "success",
      data: {
        domain_id: id,
        filters: pipeline.chain(id)?.steps() ?? [],
        projections: lm.modes(id),
        bans: lm.bans(id).length,
        ...(deps.stats?.(id) ?? {}),
      },
    });
  });

  app.get("/bans/:domain", (c) => {
    const id = domainParam(c);
    return c.json({ status: "success", data: lm.bans(id) });
  });

  app.delete("/bans/:domain/:ip", (c) => {
    const id = domainParam(c);
    const ip = c.req.param("ip");
    if (!ipKey(ip)) throw new ApiError(`"${ip}" is not an IP address`);
    const removed = lm.unban(id, ip);
    if (removed === 0) throw new ApiError(`no active ban for ${ip} in domain ${id}`);
    return c.json({ status: "success", data: { removed } });
  });

  return app;
}
