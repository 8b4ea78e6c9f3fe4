/**
 * The 23 ISCX time-feature columns in file order; `classifyFlow()` and every model take feature
 * vectors in exactly this order. The flow stage computes them, so it owns the list.
 */
export { featureNames } from "../../flows/flow_features.ts";
