import type { Logger } from "../../shared/log/logger.ts";
import type { Metrics } from "../../shared/metrics/metrics.ts";
import { UpstreamPool, validatePoolOptions } from "./upstream_pool.ts";
import type { UpstreamPicker } from "./upstream_picker.ts";

/**
 * A pool for a `[proxy:pool:<name>]` section: its options checked (a TypeError names the key
 * and `where`), then an {@linkcode UpstreamPool} reporting to the process's metrics and log.
 */
export function createPool(
  options: Record<string, unknown>,
  where: string,
  metrics: Metrics,
  log: Logger,
): UpstreamPicker {
  return new UpstreamPool(validatePoolOptions(options, where), { metrics, log });
}
