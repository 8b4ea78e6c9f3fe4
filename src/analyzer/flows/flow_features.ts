import type { Flow } from "./flow.ts";
import type { RunningStats } from "./running_stats.ts";

/** ISCX VPN-nonVPN 2016 time-related features, in column order (ISCX names). */
export const featureNames = [
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
] as const;

/** Name of one feature. */
export type FeatureName = typeof featureNames[number];

/** Feature values; `null` where the value is undefined (too few packets or gaps). Times in µs. */
export type FlowFeatures = Record<FeatureName, number | null>;

function put(
  out: FlowFeatures,
  s: RunningStats,
  keys: {
    total?: FeatureName;
    min: FeatureName;
    max: FeatureName;
    mean: FeatureName;
    std?: FeatureName;
  },
): void {
  const empty = s.n === 0;
  if (keys.total) out[keys.total] = empty ? null : s.sum;
  out[keys.min] = empty ? null : s.min;
  out[keys.max] = empty ? null : s.max;
  out[keys.mean] = empty ? null : s.mean;
  if (keys.std) out[keys.std] = empty ? null : s.std;
}

/**
 * Computes the time-related features of a finished flow (definitions in
 * `shared/datasets/iscx-vpn2016-time/README.md`): durations and inter-arrival times in µs,
 * rates per second over IP total lengths, std as sample std. Undefined values are `null`; the
 * output formats decide how to print them.
 */
export function flowFeatures(flow: Flow): FlowFeatures {
  const duration = flow.lastUs - flow.firstUs;
  const seconds = duration / 1e6;
  const n = flow.packets[0] + flow.packets[1];
  const bytes = flow.bytes[0] + flow.bytes[1];
  const out = {} as FlowFeatures;
  out.duration = duration;
  put(out, flow.fwdIat, {
    total: "total_fiat",
    min: "min_fiat",
    max: "max_fiat",
    mean: "mean_fiat",
  });
  put(out, flow.bwdIat, {
    total: "total_biat",
    min: "min_biat",
    max: "max_biat",
    mean: "mean_biat",
  });
  out.flowPktsPerSecond = duration > 0 ? n / seconds : 0;
  out.flowBytesPerSecond = duration > 0 ? bytes / seconds : 0;
  put(out, flow.flowIat, {
    min: "min_flowiat",
    max: "max_flowiat",
    mean: "mean_flowiat",
    std: "std_flowiat",
  });
  put(out, flow.active, {
    min: "min_active",
    max: "max_active",
    mean: "mean_active",
    std: "std_active",
  });
  put(out, flow.idle, { min: "min_idle", max: "max_idle", mean: "mean_idle", std: "std_idle" });
  // Re-order keys to the column order so Object.keys/JSON follow the table.
  const ordered = {} as FlowFeatures;
  for (const k of featureNames) ordered[k] = out[k];
  return ordered;
}
