/**
 * Temperature scaling of class probabilities: `p_k^(1/T)` renormalised, i.e. the softmax of the
 * model's scores divided by `T`. T > 1 softens an overconfident model; the ranking (and so the
 * predicted class) never changes. Reads the first `out.length` values of `proba`; `out` may be
 * `proba` itself.
 */
export function scaleTemperature(
  proba: ArrayLike<number>,
  temperature: number,
  out: Float64Array = new Float64Array(proba.length),
): Float64Array {
  const inv = 1 / temperature;
  const K = out.length;
  let max = -Infinity;
  for (let k = 0; k < K; k++) {
    const logit = Math.log(Math.max(proba[k]!, 1e-300)) * inv;
    out[k] = logit;
    if (logit > max) max = logit;
  }
  let sum = 0;
  for (let k = 0; k < K; k++) {
    const e = Math.exp(out[k]! - max);
    out[k] = e;
    sum += e;
  }
  for (let k = 0; k < K; k++) out[k] = out[k]! / sum;
  return out;
}
