/**
 * TrActor's access checks, before any route: the `Host` it answers to (no DNS rebinding), the
 * bearer token, and for a POST no foreign `Origin` and `Content-Type: application/json` (no
 * cross-site form posts). The sensor's API applies the same rules (`sensor/api/create_api.ts`).
 * @module
 */
import type { Context, Next } from "hono";
import {
  crossSiteProblem,
  hostMatcher,
  timingSafeEqual,
} from "../../shared/http/request_checks.ts";

/** Options of {@linkcode requestGuard}. */
export interface RequestGuardOptions {
  /** Bearer token; "" = none (loopback only, see `qts tractor --token`). */
  token: string;
  /**
   * The address served on, once known (port 0 picks one at listen); undefined = not listening
   * (`app.request()` in tests), when only loopback names are accepted.
   */
  listen(): { hostname: string; port: number } | undefined;
  /** More names (`name` any port, `name:port` exactly), e.g. behind a reverse proxy. */
  allowedHosts: readonly string[];
  /** Answers a refusal: status and message, in the API's error shape. */
  refuse(c: Context, status: 401 | 403 | 415 | 421, message: string): Response;
}

/**
 * The middleware. Accepted hosts: the listen `host:port`; loopback names (any port) when
 * listening on loopback or a wildcard address; any IP literal with the port on a wildcard
 * address (rebinding needs a name); and `allowedHosts`. The page at `/` also takes the token as
 * `?token=` (a browser opening a URL sends no header); it then sends the header itself.
 */
export function requestGuard(options: RequestGuardOptions) {
  const accepted = hostMatcher(options.listen, options.allowedHosts);
  return async function requestGuard(c: Context, next: Next): Promise<Response | void> {
    const host = c.req.header("host") ?? new URL(c.req.url).host;
    if (!accepted(host)) {
      return options.refuse(c, 421, `Misdirected request: Host "${host.slice(0, 100)}"`);
    }
    if (options.token !== "") {
      const header = c.req.header("authorization") ?? "";
      let given = header.startsWith("Bearer ") ? header.slice(7) : "";
      if (given === "" && c.req.method === "GET" && c.req.path === "/") {
        given = c.req.query("token") ?? "";
      }
      if (!timingSafeEqual(given, options.token)) {
        c.header("WWW-Authenticate", 'Bearer realm="tractor"');
        return options.refuse(c, 401, "Unauthorized: missing or wrong bearer token");
      }
    }
    if (c.req.method !== "GET" && c.req.method !== "HEAD" && c.req.method !== "OPTIONS") {
      const problem = crossSiteProblem((name) => c.req.header(name), host);
      if (problem?.status === 403) return options.refuse(c, 403, `Forbidden: ${problem.message}`);
      if (problem) return options.refuse(c, 415, `Unsupported media type: ${problem.message}`);
    }
    await next();
  };
}
