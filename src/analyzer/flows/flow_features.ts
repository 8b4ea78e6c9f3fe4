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

/** A statistic, or null when no value was added (the feature is undefined). */
function or(s: RunningStats, value: number): number | null {
  return s.n === 0 ? null : value;
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
  const { fwdIat: f, bwdIat: b, flowIat: t, active: a, idle: i } = flow;
  // One literal in column order: one object shape for every flow, keys in the table's order.
  return {
    duration,
    total_fiat: or(f, f.sum),
    total_biat: or(b, b.sum),
    min_fiat: or(f, f.min),
    min_biat: or(b, b.min),
    max_fiat: or(f, f.max),
    max_biat: or(b, b.max),
    mean_fiat: or(f, f.mean),
    mean_biat: or(b, b.mean),
    flowPktsPerSecond: duration > 0 ? n / seconds : 0,
    flowBytesPerSecond: duration > 0 ? bytes / seconds : 0,
    min_flowiat: or(t, t.min),
    max_flowiat: or(t, t.max),
    mean_flowiat: or(t, t.mean),
    std_flowiat: or(t, t.std),
    min_active: or(a, a.min),
    mean_active: or(a, a.mean),
    max_active: or(a, a.max),
    std_active: or(a, a.std),
    min_idle: or(i, i.min),
    mean_idle: or(i, i.mean),
    max_idle: or(i, i.max),
    std_idle: or(i, i.std),
  };
}
