/** TrActor: REST API v1 over a capture repository, jobs in Workers, results in SQLite. */
export { captureExtension, CaptureRepository, isCaptureName } from "./capture_repository.ts";
export type { CaptureFile } from "./capture_repository.ts";
export { flowLabeler, loadLabelConfig } from "./flow_labeler.ts";
export type { FlowLabeler, FlowLabelerOptions, FlowVerdict } from "./flow_labeler.ts";
export { JobRunner } from "./job_runner.ts";
export type { JobRunnerOptions } from "./job_runner.ts";
export { processCapture } from "./process_capture.ts";
export type { ProcessCaptureOptions } from "./process_capture.ts";
export { createTractorApi, fileStatus } from "./tractor_api.ts";
export type { FileInfo, FileStatus, TractorApiDeps } from "./tractor_api.ts";
export { tractorPage } from "./tractor_page.ts";
export { SCHEMA_VERSION, TractorStore } from "./tractor_store.ts";
export type { CountItem, FlowRow, JobRow, JobState, JobSummary } from "./tractor_store.ts";
export { startTractor } from "./start_tractor.ts";
export type { StartTractorOptions, Tractor } from "./start_tractor.ts";
