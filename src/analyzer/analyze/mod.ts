/** `qts analyze` and the reusable capture-analysis core. */
export { analyzeCapture } from "./analyze_capture.ts";
export type { AnalyzeOptions, AnalyzeProgress, AnalyzeSummary } from "./analyze_capture.ts";
export {
  arffHeader,
  arffRow,
  iscxValue,
  seedColumns,
  seedCsvHeader,
  seedCsvRow,
} from "./feature_table.ts";
export { flowRecord } from "./flow_record.ts";
export type { FlowRecord } from "./flow_record.ts";
