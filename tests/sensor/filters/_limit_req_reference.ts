/**
 * An independent transcription of nginx's ngx_http_limit_req_lookup for one key with `account`
 * set, in BigInt so it follows C integer arithmetic literally; the tests compare the filter
 * against it. Returns, per request time (ms), "pass", "delay" (passed, would be delayed) or
 * "reject".
 */
export function nginxLimitReq(
  times: number[],
  rate: string,
  burst: number,
  nodelay: boolean,
): ("pass" | "delay" | "reject")[] {
  const m = /^(\d+)r\/([sm])$/.exec(rate)!;
  const ctxRate = (BigInt(m[1]!) * 1000n) / (m[2] === "m" ? 60n : 1n); // ctx->rate
  const limitBurst = BigInt(burst) * 1000n; // limit->burst
  let node: { excess: bigint; last: bigint } | undefined;
  return times.map((t) => {
    const now = BigInt(t);
    if (node === undefined) {
      node = { excess: 0n, last: now }; // new node: excess 0, last = now
      return "pass";
    }
    let ms = now - node.last;
    if (ms < 0n) ms = -ms; // ngx_abs
    let excess = node.excess - (ctxRate * ms) / 1000n + 1000n; // BigInt division truncates
    if (excess < 0n) excess = 0n;
    if (excess > limitBurst) return "reject"; // NGX_BUSY, node untouched
    node.excess = excess;
    node.last = now;
    // ngx_http_limit_req_account: delay = excess * 1000 / rate unless nodelay or excess 0.
    return !nodelay && excess > 0n ? "delay" : "pass";
  });
}
