/** Flows: bidirectional flow table, flow records, time-related features. */
export { Flow } from "./flow.ts";
export type { FlowDirection, FlowEndReason, FlowKey } from "./flow.ts";
export { FlowTable } from "./flow_table.ts";
export type { FlowTableOptions, FlowTableStats, PayloadInspector } from "./flow_table.ts";
export { featureNames, flowFeatures } from "./flow_features.ts";
export type { FeatureName, FlowFeatures } from "./flow_features.ts";
export { RunningStats } from "./running_stats.ts";
