/**
 * Facts stated by the user's documents, written out here once for the tests that check the
 * code against them (deliberately not imported from the code under test).
 * @module
 */

/** Keys of an outbound command in the seed's order (§3.4.2 example). */
export const SEED_COMMAND_KEYS = [
  "domain_id",
  "comment",
  "rule_name",
  "method",
  "ip_addr",
  "geo",
  "timestamp",
  "timeout",
  "worker",
  "broadcast",
  "hoplite",
];

/** The ISCX time-feature columns in file order (the dataset README; the seed's table). */
export const ISCX_FEATURE_NAMES = [
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
];
