import shipped from "./iscx_model.json" with { type: "json" };
import { ModelSet } from "./model_set.ts";

/** A classifier verdict: the ISCX class and its predicted probability. */
export interface FlowClass {
  label: string;
  confidence: number;
}

/** Options of `classifyFlow()`. */
export interface ClassifyFlowOptions {
  /** Flow timeout (s) the analyzer cut the flow with; picks the nearest shipped model (120). */
  timeout?: number;
}

let builtin: ModelSet | undefined;

/** The model set compiled into the binary (parsed on first use). */
export function builtinModels(): ModelSet {
  builtin ??= ModelSet.fromJSON(shipped, "built-in model");
  return builtin;
}

/**
 * Classifies one flow from its 23 ISCX time features (order of `featureNames`: duration,
 * total_fiat, …, std_idle) into an ISCX traffic class (BROWSING … VPN-VOIP), for flows that no
 * signature names.
 *
 * @example
 * ```ts
 * const { label, confidence } = classifyFlow(features, { timeout: 120 });
 * ```
 */
export function classifyFlow(
  features: Float64Array | readonly number[],
  options: ClassifyFlowOptions = {},
): FlowClass {
  if (features.length < 23) {
    throw new RangeError(`Cannot classify a flow from ${features.length} features: need 23`);
  }
  const model = builtinModels().pick(options.timeout ?? 120);
  const proba = model.proba(features);
  let best = 0;
  for (let k = 1; k < proba.length; k++) if (proba[k]! > proba[best]!) best = k;
  return { label: model.classes[best]!, confidence: proba[best]! };
}

/**
 * Classifies many flows at once: `features` holds `features.length / 23` rows of the 23 ISCX
 * time features, row-major. Same verdicts as `classifyFlow()` per row, about twice as fast.
 */
export function classifyFlows(
  features: Float64Array,
  options: ClassifyFlowOptions = {},
): FlowClass[] {
  if (features.length % 23 !== 0) {
    throw new RangeError(`Cannot split ${features.length} values into rows of 23 features`);
  }
  const rows = features.length / 23;
  const model = builtinModels().pick(options.timeout ?? 120);
  const proba = model.probaMany(features, rows);
  const K = model.classes.length;
  const verdicts: FlowClass[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (proba[r * K + k]! > proba[r * K + best]!) best = k;
    verdicts.push({ label: model.classes[best]!, confidence: proba[r * K + best]! });
  }
  return verdicts;
}
