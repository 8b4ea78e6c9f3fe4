/**
 * TrActor's access checks, before any route: the `Host` it answers to (no DNS rebinding), the
 * bearer token, and for a POST no foreign `Origin` and `Content-Type: application/json` (no
 * cross-site form posts). The sensor's API applies the same rules (`sensor/api/create_api.ts`).
 * @module
 */
import type { Context, Next } from "hono";
import { isLoopback } from "../../shared/config/settings.ts";

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

const WILDCARD = new Set(["0.0.0.0", "::", "[::]"]);
const IP_HOST = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:.]+\])$/;

/** `host[:port]` split, lower-cased, IPv6 in brackets; a bare IPv6 address has no port. */
function splitHost(text: string): { name: string; port: number | undefined } {
  const t = text.trim().toLowerCase();
  const v6 = /^\[([^\]]*)\](?::(\d{1,5}))?$/.exec(t);
  if (v6) return { name: `[${v6[1]}]`, port: v6[2] === undefined ? undefined : Number(v6[2]) };
  if ((t.match(/:/g) ?? []).length > 1) return { name: `[${t}]`, port: undefined };
  const m = /^([^:]*)(?::(\d{1,5}))?$/.exec(t);
  if (!m) return { name: t, port: undefined };
  return { name: m[1]!, port: m[2] === undefined ? undefined : Number(m[2]) };
}

function timingSafeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * The middleware. Accepted hosts: the listen `host:port`; loopback names (any port) when
 * listening on loopback or a wildcard address; any IP literal with the port on a wildcard
 * address (rebinding needs a name); and `allowedHosts`. The page at `/` also takes the token as
 * `?token=` (a browser opening a URL sends no header); it then sends the header itself.
 */
export function requestGuard(options: RequestGuardOptions) {
  const exact = new Set<string>();
  const anyPort = new Set<string>();
  for (const entry of options.allowedHosts) {
    const { name, port } = splitHost(entry);
    if (port === undefined) anyPort.add(name);
    else exact.add(`${name}:${port}`);
  }
  const accepted = (host: string): boolean => {
    const { name, port } = splitHost(host);
    if (anyPort.has(name) || exact.has(`${name}:${port}`)) return true;
    const listen = options.listen();
    if (!listen) return isLoopback(name);
    const own = splitHost(listen.hostname).name;
    const wildcard = WILDCARD.has(own);
    if (name === own && port === listen.port) return true;
    if ((wildcard || isLoopback(own)) && isLoopback(name)) return true;
    return wildcard && port === listen.port && IP_HOST.test(name);
  };
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
      const origin = c.req.header("origin");
      if (origin !== undefined && !sameOrigin(origin, host)) {
        return options.refuse(
          c,
          403,
          `Forbidden: cross-origin request (Origin ${origin.slice(0, 100)})`,
        );
      }
      const length = c.req.header("content-length");
      const hasBody = (length !== undefined && length.trim() !== "0") ||
        c.req.header("transfer-encoding") !== undefined;
      const given = c.req.header("content-type");
      const type = (given ?? "").split(";")[0]!.trim().toLowerCase();
      if ((given !== undefined || hasBody) && type !== "application/json") {
        return options.refuse(
          c,
          415,
          "Unsupported media type: send Content-Type: application/json",
        );
      }
    }
    await next();
  };
}

/** True when `origin` is http(s) on `host`. */
function sameOrigin(origin: string, host: string): boolean {
  try {
    const url = new URL(origin);
    return (url.protocol === "http:" || url.protocol === "https:") &&
      url.host === new URL(`http://${host}`).host;
  } catch {
    return false;
  }
}
