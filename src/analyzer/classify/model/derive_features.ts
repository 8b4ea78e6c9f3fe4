import { featureNames } from "./feature_names.ts";

/** Names of the columns `deriveFeatures()` appends after the 23 ISCX columns. */
export const derivedNames: readonly string[] = Object.freeze([
  "packets",
  "bytes",
  "bytes_per_packet",
  "fwd_packets",
  "bwd_packets",
  "fwd_share",
  "fiat_biat_ratio",
  "flowiat_cv",
  "max_flowiat_share",
  "idle_share",
  "active_periods",
  "fwd_tail",
  "bwd_tail",
  "fiat_peak",
  "biat_peak",
  "fiat_share_of_gap",
]);

const F = {
  duration: 0,
  totalFiat: 1,
  totalBiat: 2,
  maxFiat: 5,
  maxBiat: 6,
  meanFiat: 7,
  meanBiat: 8,
  pktsPerSecond: 9,
  bytesPerSecond: 10,
  maxFlowiat: 12,
  meanFlowiat: 13,
  stdFlowiat: 14,
  meanActive: 16,
  meanIdle: 20,
} as const;

function ratio(a: number, b: number): number {
  return b > 0 && Number.isFinite(a) ? a / b : -1;
}

/**
 * Widens ISCX rows with quantities the rates and means imply but a tree cannot form from
 * axis-aligned splits: packet and byte counts (rate × duration), packets per direction
 * (total gap ÷ mean gap + 1), mean packet size, direction balance and burstiness.
 */
export function deriveFeatures(
  x: ArrayLike<number>,
  rows: number,
  out: Float64Array = new Float64Array(rows * (featureNames.length + derivedNames.length)),
): Float64Array {
  const inWidth = featureNames.length;
  const outWidth = inWidth + derivedNames.length;
  for (let r = 0; r < rows; r++) {
    const src = r * inWidth;
    const dst = r * outWidth;
    for (let f = 0; f < inWidth; f++) out[dst + f] = x[src + f]!;
    const v = (f: number) => x[src + f]!;
    const duration = v(F.duration);
    const seconds = duration / 1e6;
    // N − 1 gaps average mean_flowiat; falls back on the rate when the mean is missing.
    const packets = v(F.meanFlowiat) > 0
      ? duration / v(F.meanFlowiat) + 1
      : v(F.pktsPerSecond) * seconds;
    const bytes = v(F.bytesPerSecond) * seconds;
    const fwd = v(F.meanFiat) > 0 ? v(F.totalFiat) / v(F.meanFiat) + 1 : 1;
    const bwd = v(F.meanBiat) > 0 ? v(F.totalBiat) / v(F.meanBiat) + 1 : 1;
    const idleCount = v(F.meanIdle) > 0
      ? Math.round(ratio(duration, v(F.meanActive) + v(F.meanIdle)))
      : 0;
    let at = dst + inWidth;
    out[at++] = packets;
    out[at++] = bytes;
    out[at++] = ratio(bytes, packets);
    out[at++] = fwd;
    out[at++] = bwd;
    out[at++] = ratio(fwd, fwd + bwd);
    out[at++] = ratio(v(F.meanFiat), v(F.meanBiat));
    out[at++] = ratio(v(F.stdFlowiat), v(F.meanFlowiat));
    out[at++] = ratio(v(F.maxFlowiat), duration);
    out[at++] = ratio(v(F.meanIdle) * Math.max(idleCount, 0), duration);
    out[at++] = idleCount;
    // Time outside the forward (backward) gap span: where the flow starts and ends relative to
    // each direction's first and last packet.
    out[at++] = v(F.totalFiat) > 0 ? duration - v(F.totalFiat) : -1;
    out[at++] = v(F.totalBiat) > 0 ? duration - v(F.totalBiat) : -1;
    out[at++] = ratio(v(F.maxFiat), v(F.meanFiat));
    out[at++] = ratio(v(F.maxBiat), v(F.meanBiat));
    out[at++] = ratio(v(F.meanFiat), v(F.meanFlowiat));
  }
  return out;
}
