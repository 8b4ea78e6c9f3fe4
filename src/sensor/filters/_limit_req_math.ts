/**
 * nginx `limit_req` arithmetic (ngx_http_limit_req_module.c, nginx ≥ 1.15.0), shared by every
 * backend so they decide alike. Rates are in requests per 1000 s (nginx's `ctx->rate`), excess in
 * 1/1000 request, times in integer ms.
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
 * The ms a request drains from its key, as ngx_http_limit_req_lookup counts them: `now - last`,
 * but 0 when `now` is before `last` (another sensor or worker already stored a later time), and
 * 1 when it is more than 60 s before (the clock was set back). Never `abs(now - last)` (nginx
 * ≤ 1.14): with two clocks apart, every out-of-order request would drain the bucket again.
 * The caller moves `last` to `now` only when this is not 0, so `last` never goes back.
 */
export function elapsedMs(now: number, last: number): number {
  const ms = now - last;
  return ms < -60_000 ? 1 : ms < 0 ? 0 : ms;
}

/**
 * One `ngx_http_limit_req_lookup` with `account` set, on a known key: the excess to store, or
 * REJECT (state unchanged) when it would exceed `burst * 1000`.
 * `excess = lr->excess - ctx->rate * ms / 1000 + 1000`, clamped at 0, with `ms` from
 * {@linkcode elapsedMs}. A key seen for the first time passes with excess 0 (the caller stores
 * that with `last = now`).
 */
export function nextExcess(excess: number, ms: number, rate: number, burst: number): number {
  let next = excess - Math.trunc((rate * ms) / 1000) + 1000;
  if (next < 0) next = 0;
  return next > burst * 1000 ? REJECT : next;
}

/**
 * True when nginx would delay a passed request: not `nodelay`, and the delay
 * `excess * 1000 / ctx->rate` (ngx_http_limit_req_account, integer ms) is at least 1 ms; an
 * excess below 1 ms of rate passes undelayed. A sensor cannot delay anything: this only sets
 * the `limit_req_delayed` flag; it never emits.
 */
export function wouldDelay(excess: number, nodelay: boolean, rate: number): boolean {
  return !nodelay && excess * 1000 >= rate;
}

/**
 * True when a key idle since `last` may be forgotten at `now` without changing any later
 * decision: at least 60 s have passed forward (nginx's expiry age) and the bucket has drained
 * by one request more than its excess, so the next request finds excess 0 as a new key would.
 * A `last` ahead of `now` (clock set back, or another clock) is kept: nginx drains nothing then.
 */
export function drained(excess: number, last: number, now: number, rate: number): boolean {
  const ms = now - last;
  return ms >= 60_000 && excess + 1000 - Math.trunc((rate * ms) / 1000) <= 0;
}

/** Seconds until a key's excess drains to 0, plus nginx's 60 s grace: the memcached TTL. */
export function drainSeconds(burst: number, rate: number): number {
  return Math.ceil(((burst + 1) * 1000 * 1000) / rate / 1000) + 60;
}
