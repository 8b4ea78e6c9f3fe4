/** Options of `calibrationError()`. */
export interface CalibrationErrorOptions {
  /** Equal-width confidence bins over [0, 1] (15, as in Guo et al. 2017). */
  bins?: number;
}

/**
 * Expected calibration error of top-class confidences: rows are binned by confidence, and the
 * gaps |accuracy − mean confidence| of the bins are averaged, weighted by their row counts.
 * 0 means "a flow given confidence c is right a share c of the time".
 */
export function calibrationError(
  confidence: ArrayLike<number>,
  correct: ArrayLike<boolean>,
  options: CalibrationErrorOptions = {},
): number {
  const bins = options.bins ?? 15;
  if (confidence.length !== correct.length) {
    throw new RangeError(
      `Cannot score calibration: ${confidence.length} confidences, ${correct.length} outcomes`,
    );
  }
  const count = new Float64Array(bins),
    conf = new Float64Array(bins),
    hits = new Float64Array(bins);
  for (let i = 0; i < confidence.length; i++) {
    const c = confidence[i]!;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(c * bins)));
    count[b]!++;
    conf[b]! += c;
    if (correct[i]) hits[b]!++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    if (count[b]! > 0) ece += Math.abs(hits[b]! - conf[b]!) / confidence.length;
  }
  return ece;
}
