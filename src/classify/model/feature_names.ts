/**
 * The 23 ISCX time-feature columns in file order; `classifyFlow()` and every model take feature
 * vectors in exactly this order.
 */
export const featureNames: readonly string[] = Object.freeze([
  "duration",
  "total_fiat",
  "total_biat",
  "min_fiat",
  "min_biat",
  "max_fiat",
  "max_biat",
  "mean_fiat",
  "mean_biat",
  "flowPktsPerSecond",
  "flowBytesPerSecond",
  "min_flowiat",
  "max_flowiat",
  "mean_flowiat",
  "std_flowiat",
  "min_active",
  "mean_active",
  "max_active",
  "std_active",
  "min_idle",
  "mean_idle",
  "max_idle",
  "std_idle",
]);
