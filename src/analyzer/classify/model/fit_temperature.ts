import { scaleTemperature } from "./scale_temperature.ts";

/**
 * The temperature that minimises the negative log-likelihood of the true classes `y` under
 * `proba` (`y.length × classes`, row-major), searched on log T in [1/20, 20] (golden section; the
 * likelihood is unimodal in T). Fit it on held-out predictions, never on the training rows.
 */
export function fitTemperature(
  proba: Float64Array,
  y: ArrayLike<number>,
  classes: number,
): number {
  if (proba.length !== y.length * classes) {
    throw new RangeError(
      `Cannot fit a temperature: ${proba.length} probabilities for ${y.length} rows × ${classes}`,
    );
  }
  const scratch = new Float64Array(classes);
  const nll = (logT: number) => {
    const t = Math.exp(logT);
    let sum = 0;
    for (let r = 0; r < y.length; r++) {
      scaleTemperature(proba.subarray(r * classes, (r + 1) * classes), t, scratch);
      sum -= Math.log(Math.max(scratch[y[r]!]!, 1e-300));
    }
    return sum;
  };
  const phi = (Math.sqrt(5) - 1) / 2;
  let a = Math.log(1 / 20), b = Math.log(20);
  let c = b - phi * (b - a), d = a + phi * (b - a);
  let fc = nll(c), fd = nll(d);
  for (let i = 0; i < 60 && b - a > 1e-4; i++) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - phi * (b - a);
      fc = nll(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + phi * (b - a);
      fd = nll(d);
    }
  }
  return Math.exp((a + b) / 2);
}
