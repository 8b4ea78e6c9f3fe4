/** TrActor: REST API v1 over a capture repository, jobs in Workers, results in SQLite or PostgreSQL. */
export { captureExtension, CaptureRepository, isCaptureName } from "./capture_repository.ts";
export type { CaptureFile } from "./capture_repository.ts";
export { flowLabeler, loadLabelConfig } from "./flow_labeler.ts";
export type { FlowLabeler, FlowLabelerOptions, FlowSource, FlowVerdict } from "./flow_labeler.ts";
export { defaultClaimant, JobRunner } from "./job_runner.ts";
export type { JobRunnerOptions } from "./job_runner.ts";
export { processCapture } from "./process_capture.ts";
export type { ProcessCaptureOptions } from "./process_capture.ts";
export { createTractorApi, fileStatus } from "./tractor_api.ts";
export type { FileInfo, FileStatus, TractorApiDeps } from "./tractor_api.ts";
export { tractorPage } from "./tractor_page.ts";
export { LostClaimError, SCHEMA_VERSION, TractorStore } from "./tractor_store.ts";
export type {
  ClaimResult,
  CountItem,
  FlowRow,
  JobClaim,
  JobRow,
  JobState,
  JobSummary,
  StoreErrorKind,
  StoreOperation,
  TractorStoreOptions,
} from "./tractor_store.ts";
export { isPostgresUrl, portableSql, redactUrl } from "./sql_driver.ts";
export type { SqlDriver, SqlExecutor, SqlRow, SqlValue } from "./sql_driver.ts";
export { startTractor } from "./start_tractor.ts";
export { TractorMetrics } from "./tractor_metrics.ts";
export type { JobOutcome } from "./tractor_metrics.ts";
export { JobTally } from "./job_tally.ts";
export type { JobTallyData } from "./job_tally.ts";
export type { StartTractorOptions, Tractor } from "./start_tractor.ts";
