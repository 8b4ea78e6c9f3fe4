import { Hono } from "hono";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import {
  COMPONENT_NAMES,
  type ComponentName,
  isComponentName,
} from "../../shared/config/components.ts";
import { type ConfigStore, isDomainId } from "../../shared/config/config_store.ts";
import type { Pipeline } from "../ingest/pipeline.ts";
import type { Ban, BanDetail, ListManager } from "../lm/list_manager.ts";
import type { Logger } from "../../shared/log/logger.ts";
import type { Metrics } from "../../shared/metrics/metrics.ts";
import { ipKey } from "../../shared/net/ip.ts";
import { VERSION } from "../../shared/version.ts";
import { ConfigActions } from "./config_actions.ts";
import { livePage } from "./live_page.ts";
import {
  crossSiteProblem,
  hostMatcher,
  splitHost,
  timingSafeEqual,
} from "../../shared/http/request_checks.ts";

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
  /** The in-process proxy's state for `GET /proxy` (listeners, pools); absent = 404. */
  proxy?: (() => unknown) | undefined;
  /**
   * The serialised configuration changes; pass the sensor's so API calls, autodiscover and file
   * watching take turns. Default: a new one over store and pipeline.
   */
  actions?: ConfigActions;
}

/** An API error: the seed's `{"status":"error","exception":…}` with HTTP 400 unless stated. */
class ApiError extends Error {
  constructor(message: string, readonly status: 400 | 401 | 403 | 415 | 421 = 400) {
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

function componentParam(c: Context): ComponentName {
  const name = c.req.param("component") ?? "";
  if (!isComponentName(name)) {
    throw new ApiError(
      `unknown component "${name}" (known: ${COMPONENT_NAMES.join(", ")})`,
    );
  }
  return name;
}

function rewriteParam(c: Context): boolean {
  const values = c.req.queries("rewrite") ?? [];
  // `?rewrite=1&rewrite=0` must not mean "write" to one reader and "don't" to another.
  if (values.length > 1) throw new ApiError("rewrite given more than once");
  const value = values[0];
  if (value === undefined || value === "0") return false;
  if (value === "1") return true;
  throw new ApiError(`rewrite must be 0 or 1, not "${value}"`);
}

/** The request body as a JSON object; `what` names the expected content in the error. */
async function jsonObject(c: Context, what: string): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ApiError(`invalid JSON body: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const got = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
    throw new ApiError(`request body must be a JSON object of ${what}, got ${got}`);
  }
  return value as Record<string, unknown>;
}

function sameIp(a: string, b: string): boolean {
  const x = ipKey(a);
  const y = ipKey(b);
  if (!x || !y || x.v !== y.v) return false;
  return x.v === 4 ? x.n === (y as typeof x).n : x.hex === (y as typeof x).hex;
}

/** The entries of the api_allowed_hosts setting, whatever shape it arrives in. */
function configuredHosts(value: unknown): string[] {
  const items = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : [];
  return items.filter((v): v is string => typeof v === "string").map((v) => v.trim())
    .filter((v) => v !== "");
}

const STATE_CHANGING = new Set(["POST", "PUT", "DELETE", "PATCH"]);

/**
 * The checks every request passes before any route (see `shared/http/request_checks.ts`): its
 * `Host` is one the API answers to, it repeats no query key, and a state-changing request comes
 * from no foreign `Origin` and, with a body, says `Content-Type: application/json`.
 */
function requestGuard(listenHost: string, port: number, allowed: string[]) {
  const accepted = hostMatcher(() => ({ hostname: listenHost, port }), allowed);
  const listen = splitHost(listenHost).name;
  return async function requestGuard(c: Context, next: () => Promise<void>): Promise<void> {
    const host = c.req.header("host") ?? new URL(c.req.url).host;
    if (!accepted(host)) {
      throw new ApiError(
        `Host "${host.slice(0, 100)}" is not one this API answers to ` +
          `(${listen}:${port}; more names in api_allowed_hosts)`,
        421,
      );
    }
    const keys = [...new URL(c.req.url).searchParams.keys()];
    const repeated = keys.find((key, i) => keys.indexOf(key) !== i);
    if (repeated !== undefined) {
      throw new ApiError(`query parameter "${repeated.slice(0, 100)}" given more than once`);
    }
    if (STATE_CHANGING.has(c.req.method)) {
      const problem = crossSiteProblem((name) => c.req.header(name), host);
      if (problem?.status === 403) throw new ApiError(problem.message, 403);
      if (problem) {
        throw new ApiError(
          `a ${c.req.method} body must be sent as Content-Type: application/json` +
            (problem.type === "" ? "" : `, not ${problem.type.slice(0, 100)}`),
          415,
        );
      }
    }
    await next();
  };
}

/**
 * The sensor's REST API (seed §4, SPEC §7) as a Hono app, tested in memory with
 * `app.request()` and served by `qts serve`. Every error answers
 * `{"status":"error","exception":"<what and where>"}`; a rejected change changes nothing.
 */
export function createApi(deps: ApiDeps): Hono {
  const { store, pipeline, lm } = deps;
  const maxBody = deps.maxBody ?? 1 << 20;
  const actions = deps.actions ?? new ConfigActions(deps);
  // strict: false serves `/filters/8984/` like `/filters/8984`.
  const app = new Hono({ strict: false });

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
  // The seed answers every error with 400; an unknown path is one too (this is also where a
  // `/filters/../x` lands after URL normalisation).
  app.notFound((c) =>
    c.json({ status: "error", exception: `no endpoint ${c.req.method} ${c.req.path}` }, 400)
  );

  // Before every route, /healthz and /ui included: a rebound name reaches none of them.
  const settings = store.settings as typeof store.settings & { api_allowed_hosts?: unknown };
  app.use(
    "*",
    requestGuard(
      settings.api_server_host,
      settings.api_server_port,
      configuredHosts(settings.api_allowed_hosts),
    ),
  );

  app.get(
    "/healthz",
    (c) => c.json({ status: "success", version: VERSION, uptime_ms: deps.uptime() }),
  );

  // The live page. A browser opening a URL sends no bearer header, so with a token its HTML is
  // served for `?token=<api_token>` too (or the header); the page then sends the header itself.
  app.get("/ui", (c) => {
    const header = c.req.header("authorization") ?? "";
    const given = header.startsWith("Bearer ") ? header.slice(7) : c.req.query("token") ?? "";
    if (deps.token !== "" && !timingSafeEqual(given, deps.token)) {
      c.header("WWW-Authenticate", 'Bearer realm="qts"');
      throw new ApiError("missing or wrong token (/ui?token=<api_token> or a bearer header)", 401);
    }
    return livePage();
  });

  if (deps.token !== "") {
    app.use("*", async (c, next) => {
      const header = c.req.header("authorization") ?? "";
      const given = header.startsWith("Bearer ") ? header.slice(7) : "";
      if (!timingSafeEqual(given, deps.token)) {
        c.header("WWW-Authenticate", 'Bearer realm="qts"');
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
    const body = await jsonObject(c, "components");
    await actions.putDomain(id, body, rewrite);
    // The effective configuration: what the fields left out took from the layers below.
    return c.json({ status: "success", data: store.domainConfig(id) });
  });

  app.delete("/filters/:domain", async (c) => {
    const id = knownDomain(c);
    await actions.deleteDomain(id, rewriteParam(c));
    return c.json({ status: "success" });
  });

  app.get("/filters/:domain/:component", (c) => {
    const id = knownDomain(c);
    const name = componentParam(c);
    return c.json({ status: "success", data: store.domainConfig(id)[name] });
  });

  app.put("/filters/:domain/:component", async (c) => {
    const id = domainParam(c);
    const name = componentParam(c);
    const rewrite = rewriteParam(c);
    const body = await jsonObject(c, `"${name}" settings`);
    await actions.putComponent(id, name, body, rewrite);
    return c.json({ status: "success", data: store.domainConfig(id)[name] });
  });

  const reload = (what: "filters" | "components") => async (c: Context) => {
    const { problems, onDefaults } = await actions.reload(what, "api");
    if (problems.length > 0) {
      const defaults = onDefaults.length === 0
        ? ""
        : `, domain(s) ${onDefaults.join(", ")} running on defaults`;
      throw new ApiError(
        `reload_${what}: ${problems.length} problem(s), last good configuration kept${defaults}: ` +
          problems.join("; "),
      );
    }
    return c.json({ status: "success" });
  };
  app.post("/reload_filters", reload("filters"));
  app.post("/reload_components", reload("components"));

  /** A domain the sensor knows: configured, processed (force_domains), or holding bans. */
  const seenDomain = (c: Context): number => {
    const id = domainParam(c);
    if (
      !store.hasDomain(id) && !store.accepts(id) && !lm.domainIds().includes(id) &&
      pipeline.steps(id) === undefined
    ) {
      throw new ApiError(`unknown domain ${id}`);
    }
    return id;
  };

  app.get("/stats/:domain", (c) => {
    const id = seenDomain(c);
    return c.json({
      status: "success",
      data: {
        domain_id: id,
        filters: pipeline.steps(id) ?? [],
        projections: lm.modes(id),
        bans: lm.bans(id).length,
        ...(deps.stats?.(id) ?? {}),
      },
    });
  });

  app.get("/proxy", (c) => {
    if (!deps.proxy) throw new ApiError("the proxy is not enabled ([proxy] enabled = true)");
    return c.json({ status: "success", data: deps.proxy() });
  });

  app.get("/bans", (c) => {
    const data: (Ban & { domain_id: number })[] = [];
    for (const id of lm.domainIds().sort((a, b) => a - b)) {
      for (const ban of lm.bans(id)) data.push({ domain_id: id, ...ban });
    }
    return c.json({ status: "success", data });
  });

  app.get("/bans/:domain", (c) => {
    const id = seenDomain(c);
    return c.json({ status: "success", data: lm.bans(id) });
  });

  /**
   * An IP's active bans with their evidence (in one domain, or every domain) and its ban
   * history: what the person on call reads to answer "why was this IP banned?".
   */
  const explain = (ip: string, domainId?: number) => {
    if (!ipKey(ip)) throw new ApiError(`"${ip.slice(0, 64)}" is not an IP address`);
    const ids = domainId === undefined ? lm.domainIds() : [domainId];
    // The spellings the bans hold (`2001:DB8::1` finds `2001:db8::1`), and the address itself.
    const spellings = new Set([ip]);
    for (const id of ids) for (const b of lm.bans(id)) if (sameIp(b.ip, ip)) spellings.add(b.ip);
    const seen = new Set<string>();
    const bans: BanDetail[] = [];
    for (const spelling of spellings) {
      for (const detail of lm.banDetails(spelling, domainId)) {
        const key = `${detail.domain_id}\n${detail.rule_name}\n${detail.ip}`;
        if (seen.has(key)) continue;
        seen.add(key);
        bans.push(detail);
      }
    }
    const held = new Set([...spellings, ...bans.map((b) => b.ip)]);
    const history = lm.history().filter((h) =>
      held.has(h.ip) && (domainId === undefined || h.domain_id === domainId)
    );
    return { ip, bans, history };
  };

  app.get("/bans/:domain/:ip", (c) => {
    const id = seenDomain(c);
    return c.json({ status: "success", data: explain(c.req.param("ip"), id) });
  });

  app.get("/ips/:ip", (c) => c.json({ status: "success", data: explain(c.req.param("ip")) }));

  app.delete("/bans/:domain/:ip", (c) => {
    const id = seenDomain(c);
    const ip = c.req.param("ip");
    if (!ipKey(ip)) throw new ApiError(`"${ip}" is not an IP address`);
    // Bans keep the address as the record carried it; match `2001:DB8::1` to `2001:db8::1`.
    const held = new Set(lm.bans(id).filter((b) => sameIp(b.ip, ip)).map((b) => b.ip));
    let removed = 0;
    for (const text of held) removed += lm.unban(id, text);
    // Not banned as itself: the ban of the IPv6 network it was counted in (its /64), if any.
    if (held.size === 0) removed += lm.unban(id, ip);
    if (removed === 0) throw new ApiError(`no active ban for ${ip} in domain ${id}`);
    return c.json({ status: "success", data: { removed } });
  });

  return app;
}
