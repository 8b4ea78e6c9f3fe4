import { derivedNames, deriveFeatures } from "./derive_features.ts";
import { featureNames } from "./feature_names.ts";

/** Per model column (23 ISCX + derived), the range a flow's value may fall in. */
export interface FeatureRanges {
  columns: string[];
  low: number[];
  high: number[];
}

/** Options of `featureRanges()`. */
export interface FeatureRangesOptions {
  /** Quantiles bounding the bulk of the training values (0.005 and 0.995). */
  quantile?: number;
  /** Widening on each side, as a share of the quantile span on the log scale (0.1). */
  margin?: number;
}

/** sign(v)·ln(1 + |v|): the ISCX columns span µs to hours and bytes to gigabytes. */
function squash(v: number): number {
  return Math.sign(v) * Math.log1p(Math.abs(v));
}

function unsquash(t: number): number {
  return Math.sign(t) * Math.expm1(Math.abs(t));
}

/**
 * Robust ranges of the model's input columns over training rows (raw 23 ISCX features,
 * row-major): the `quantile` … `1 − quantile` span of each column on a signed log scale, widened
 * by `margin` of that span on each side, then mapped back to raw units. A value outside is far
 * outside anything the model was trained on (trees extrapolate flat beyond their last split).
 */
export function featureRanges(
  x: Float64Array,
  rows: number,
  options: FeatureRangesOptions = {},
): FeatureRanges {
  if (rows < 2) throw new RangeError(`Cannot compute feature ranges from ${rows} rows`);
  const q = options.quantile ?? 0.005;
  const margin = options.margin ?? 0.1;
  const wide = deriveFeatures(x, rows);
  const width = featureNames.length + derivedNames.length;
  const low: number[] = [], high: number[] = [];
  const column = new Float64Array(rows);
  for (let c = 0; c < width; c++) {
    for (let r = 0; r < rows; r++) column[r] = squash(wide[r * width + c]!);
    column.sort();
    const lo = column[Math.floor((rows - 1) * q)]!;
    const hi = column[Math.ceil((rows - 1) * (1 - q))]!;
    // A constant column still admits its own value after the round trip through exp/log.
    const pad = Math.max((hi - lo) * margin, 1e-6);
    low.push(unsquash(lo - pad));
    high.push(unsquash(hi + pad));
  }
  return { columns: [...featureNames, ...derivedNames], low, high };
}
