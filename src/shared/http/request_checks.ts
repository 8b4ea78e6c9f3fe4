/**
 * The request checks both REST APIs (the sensor's and TrActor's) make before any route: the
 * `Host` they answer to (no DNS rebinding), a constant-time token comparison, and no
 * cross-site writes (foreign `Origin`, or a body that is not JSON). Each API answers a failed
 * check in its own error shape.
 * @module
 */
import { isLoopback } from "../config/settings.ts";

const WILDCARD = new Set(["0.0.0.0", "::", "[::]", "*"]);
const IP_HOST = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:.]+\])$/;

/** True when two strings are equal, in time independent of where they differ (tokens). */
export function timingSafeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * `host[:port]` split, the host lower-cased and an IPv6 address in brackets; a bare IPv6
 * address (more than one colon) has no port. Port `undefined` when none is given.
 */
export function splitHost(text: string): { name: string; port: number | undefined } {
  const t = text.trim().toLowerCase();
  const v6 = /^\[([^\]]*)\](?::(\d{1,5}))?$/.exec(t);
  if (v6) return { name: `[${v6[1]}]`, port: v6[2] === undefined ? undefined : Number(v6[2]) };
  if ((t.match(/:/g) ?? []).length > 1) return { name: `[${t}]`, port: undefined };
  const m = /^([^:]*)(?::(\d{1,5}))?$/.exec(t);
  if (!m) return { name: t, port: undefined };
  return { name: m[1]!, port: m[2] === undefined ? undefined : Number(m[2]) };
}

/**
 * Whether a `Host` header names this server. Accepted: the listen `host:port`; loopback names
 * (any port, or none as `app.request()` sends it) when listening on loopback or a wildcard
 * address; any IP literal with the port on a wildcard address (rebinding needs a name); and
 * each `allowed` entry (`name:port` exactly, `name` with any port). `listen` undefined: not
 * listening yet (tests), loopback names only.
 */
export function hostMatcher(
  listen: () => { hostname: string; port: number } | undefined,
  allowed: readonly string[],
): (host: string) => boolean {
  const exact = new Set<string>();
  const anyPort = new Set<string>();
  for (const entry of allowed) {
    const { name, port } = splitHost(entry);
    if (port === undefined) anyPort.add(name);
    else exact.add(`${name}:${port}`);
  }
  return (host) => {
    const { name, port } = splitHost(host);
    if (anyPort.has(name) || exact.has(`${name}:${port}`)) return true;
    const at = listen();
    if (!at) return isLoopback(name);
    const own = splitHost(at.hostname).name;
    const wildcard = WILDCARD.has(at.hostname.trim()) || WILDCARD.has(own);
    if (name === own && port === at.port) return true;
    if ((wildcard || isLoopback(own)) && isLoopback(name)) return true;
    return wildcard && port === at.port && IP_HOST.test(name);
  };
}

/** True when `origin` (a browser's `Origin` header) is http(s) on `host`. */
export function sameOrigin(origin: string, host: string): boolean {
  try {
    const url = new URL(origin);
    return (url.protocol === "http:" || url.protocol === "https:") &&
      url.host === new URL(`http://${host}`).host;
  } catch {
    return false; // "null" and other opaque origins
  }
}

/**
 * What is wrong with a state-changing request, or undefined: a foreign `Origin` (403), or a
 * body not sent as `application/json` (415). A browser form or a "simple" cross-site fetch
 * always names its type (form, text, multipart), even with an empty body; an API client's
 * body-less call names none.
 */
export function crossSiteProblem(
  header: (name: string) => string | undefined,
  host: string,
): { status: 403 | 415; message: string; type: string } | undefined {
  const origin = header("origin");
  if (origin !== undefined && !sameOrigin(origin, host)) {
    return {
      status: 403,
      message: `cross-origin request refused (Origin ${origin.slice(0, 100)})`,
      type: "",
    };
  }
  const length = header("content-length");
  const hasBody = (length !== undefined && length.trim() !== "0") ||
    header("transfer-encoding") !== undefined;
  const given = header("content-type");
  const type = (given ?? "").split(";")[0]!.trim().toLowerCase();
  if ((given !== undefined || hasBody) && type !== "application/json") {
    return {
      status: 415,
      message: "send Content-Type: application/json" +
        (type === "" ? "" : `, not ${type.slice(0, 100)}`),
      type,
    };
  }
  return undefined;
}
