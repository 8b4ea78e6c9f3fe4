/**
 * An independent transcription of nginx's limit_req for one key under one `limit_req` (so the
 * lookup runs with `account` set and the account step only computes the delay), in BigInt so it
 * follows C integer arithmetic literally; the tests compare the filter against it.
 *
 * Transcribed from nginx/nginx at commit 3f6f7824d4e2eb1ac37dec76683d525ac0ff521c,
 * src/http/modules/ngx_http_limit_req_module.c (blob 2b062a3052f7, unchanged in this part since
 * 7b9bc5d4d "Limit req: improved handling of negative times", nginx 1.15.0). Line numbers below
 * are that file's at that commit. Not the nginx ≤ 1.14 `ngx_abs(ms)` reading: a time before the
 * node's `last` drains nothing, and `last` never moves back.
 *
 * Returns, per request time (ms, in the order nginx sees them), "pass", "delay" (passed, nginx
 * would delay it) or "reject".
 */
export function nginxLimitReq(
  times: number[],
  rate: string,
  burst: number,
  nodelay: boolean,
): ("pass" | "delay" | "reject")[] {
  // ngx_http_limit_req_zone, l. 903-939: rate=N r/s or r/m; ctx->rate = rate * 1000 / scale.
  const m = /^(\d+)r\/([sm])$/.exec(rate)!;
  const ctxRate = (BigInt(m[1]!) * 1000n) / (m[2] === "m" ? 60n : 1n);
  // ngx_http_limit_req, l. 1020-1021 and 1060-1061: nodelay sets delay to
  // NGX_MAX_INT_T_VALUE / 1000 (64-bit); limit->burst = burst * 1000, limit->delay = delay * 1000.
  const limitBurst = BigInt(burst) * 1000n;
  const limitDelay = nodelay ? (9223372036854775807n / 1000n) * 1000n : 0n;
  let lr: { excess: bigint; last: bigint } | undefined;
  return times.map((t) => {
    const now = BigInt(t); // l. 416: now = ngx_current_msec
    let excess: bigint;
    if (lr === undefined) {
      // l. 486-524: a new node: *ep = 0, lr->excess = 0, and with account lr->last = now.
      lr = { excess: 0n, last: now };
      excess = 0n;
    } else {
      // l. 445-452
      let ms = now - lr.last;
      if (ms < -60000n) {
        ms = 1n;
      } else if (ms < 0n) {
        ms = 0n;
      }
      // l. 454-458 (ms >= 0 here; BigInt division truncates like C's)
      excess = lr.excess - (ctxRate * ms) / 1000n + 1000n;
      if (excess < 0n) {
        excess = 0n;
      }
      // l. 462-464: NGX_BUSY, the node untouched.
      if (excess > limitBurst) return "reject";
      // l. 466-474: account.
      lr.excess = excess;
      if (ms !== 0n) {
        lr.last = now;
      }
    }
    // ngx_http_limit_req_account, l. 545-553 (its loop over earlier limits, l. 555-603, is empty
    // with one limit): max_delay = (excess - delay) * 1000 / ctx->rate when excess > delay.
    const maxDelay = excess <= limitDelay ? 0n : ((excess - limitDelay) * 1000n) / ctxRate;
    // ngx_http_limit_req_handler, l. 294-299: no delay (0 ms after truncation) means PASSED.
    return maxDelay === 0n ? "pass" : "delay";
  });
}
