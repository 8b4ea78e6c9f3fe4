/**
 * Time-feature traffic classifier (ISCX VPN-nonVPN classes) for flows no signature names:
 * `classifyFlow()` for the analyzer, training and evaluation for `qts model`.
 */
export { builtinModels, classifyFlow, classifyFlows } from "./classify_flow.ts";
export type { ClassifyFlowOptions, FlowClass } from "./classify_flow.ts";
export { featureNames } from "./feature_names.ts";
export { ModelSet } from "./model_set.ts";
export { TrafficModel } from "./traffic_model.ts";
export { parseDataset } from "./parse_dataset.ts";
export type { Dataset } from "./parse_dataset.ts";
export { crossValidate } from "./cross_validate.ts";
export { classificationReport } from "./classification_report.ts";
export type { ClassificationReport } from "./classification_report.ts";
export { trainModelSet } from "./train_model_set.ts";
export { builtinGuard, recognizeFlow, recognizeFlows } from "./recognize_flow.ts";
export type { FlowService, RecognizeFlowOptions } from "./recognize_flow.ts";
export { UNKNOWN_LABEL, UnknownGuard } from "./unknown_guard.ts";
export type { GuardedClass, UnknownGuardJson, UnknownReason } from "./unknown_guard.ts";
export { heldOutPredictions } from "./held_out_predictions.ts";
export { fitUnknownGuard } from "./fit_unknown_guard.ts";
export { evaluateUnknownGuard } from "./evaluate_unknown_guard.ts";
