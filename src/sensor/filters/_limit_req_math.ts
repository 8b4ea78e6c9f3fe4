/**
 * nginx `limit_req` arithmetic (ngx_http_limit_req_module.c), shared by every backend so they
 * decide alike. Rates are in requests per 1000 s (nginx's `ctx->rate`), excess in 1/1000 request.
 */

/** Parses "10r/s" / "600r/m" into requests per 1000 s, as `ctx->rate = rate * 1000 / scale`. */
export function parseRate(rate: string, where: string): number {
  const match = /^(\d+(?:\.\d+)?)r\/([sm])$/.exec(rate);
  if (!match) {
    throw new SyntaxError(`Cannot build ${where}: rate "${rate}" is not like "10r/s" or "600r/m"`);
  }
  // nginx takes whole numbers only; a fractional rate (ours) is truncated the same way.
  const perThousand = Math.floor((Number(match[1]) * 1000) / (match[2] === "m" ? 60 : 1));
  if (!(perThousand > 0)) {
    throw new RangeError(`Cannot build ${where}: rate "${rate}" is below 1 request per 1000 s`);
  }
  return perThousand;
}

/** Result of one lookup: `excess` is the new excess (ms-rounded nginx value) or -1 on reject. */
export const REJECT = -1;

/**
 * One `ngx_http_limit_req_lookup` with `account` set, on a known key: returns the excess to
 * store with `last = now`, or REJECT (state unchanged) when it would exceed `burst * 1000`.
 * `ms = now - last; excess = lr->excess - ctx->rate * abs(ms) / 1000 + 1000`, clamped at 0.
 * A key seen for the first time passes with excess 0 (the caller stores that).
 */
export function nextExcess(
  excess: number,
  last: number,
  now: number,
  rate: number,
  burst: number,
): number {
  const ms = Math.abs(now - last);
  let next = excess - Math.trunc((rate * ms) / 1000) + 1000;
  if (next < 0) next = 0;
  return next > burst * 1000 ? REJECT : next;
}

/**
 * True when nginx would delay a passed request (burst set, no `nodelay`, excess above 0). A
 * sensor cannot delay anything: this only sets the `limit_req_delayed` flag; it never emits.
 */
export function wouldDelay(excess: number, nodelay: boolean): boolean {
  return !nodelay && excess > 0;
}

/** Seconds until a key's excess drains to 0, plus nginx's 60 s grace: the memcached TTL. */
export function drainSeconds(burst: number, rate: number): number {
  return Math.ceil(((burst + 1) * 1000 * 1000) / rate / 1000) + 60;
}
