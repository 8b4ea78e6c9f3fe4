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
