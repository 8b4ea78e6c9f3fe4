import calibration from "./iscx_calibration.json" with { type: "json" };
import { builtinModels } from "./classify_flow.ts";
import { foreignService } from "./foreign_service.ts";
import { type GuardedClass, UNKNOWN_LABEL, UnknownGuard } from "./unknown_guard.ts";

/** Protocol and ports of the flow, for the out-of-domain service check. */
export interface FlowService {
  /** IP protocol number (6 TCP, 17 UDP). */
  protocol: number;
  srcPort: number;
  dstPort: number;
}

/** Options of `recognizeFlow()`. */
export interface RecognizeFlowOptions {
  /** Flow timeout (s) the analyzer cut the flow with; picks the nearest shipped model (120). */
  timeout?: number;
}

let builtin: UnknownGuard | undefined;

/** The unknown guard compiled into the binary (`iscx_calibration.json`), parsed on first use. */
export function builtinGuard(): UnknownGuard {
  builtin ??= UnknownGuard.fromJSON(calibration, "built-in calibration");
  return builtin;
}

let scratch = new Float64Array(14);

/** The `unknown` verdict for a protocol or service port no ISCX class had, else undefined. */
function foreignVerdict(service: FlowService | undefined): GuardedClass | undefined {
  if (service === undefined) return undefined;
  const foreign = foreignService(service.protocol, service.srcPort, service.dstPort);
  if (foreign === undefined) return undefined;
  return {
    label: UNKNOWN_LABEL,
    confidence: 0,
    guess: "",
    reason: foreign.startsWith("protocol") ? "protocol" : "port",
    detail: foreign,
  };
}

/**
 * Classifies a flow no signature names, or says `unknown`: `unknown` for protocols and service
 * ports no ISCX class had (without asking the model), for time features far outside the
 * training ranges, and when the calibrated probability of the top class is below the shipped
 * threshold. `confidence` is the calibrated probability of the model's top class (`guess`).
 *
 * @example
 * ```ts
 * const verdict = recognizeFlow(features, { protocol: 17, srcPort: 40000, dstPort: 514 });
 * // { label: "unknown", confidence: 0, guess: "", reason: "port", detail: "udp/514 syslog" }
 * ```
 */
export function recognizeFlow(
  features: Float64Array | readonly number[],
  service?: FlowService,
  options: RecognizeFlowOptions = {},
): GuardedClass {
  if (features.length < 23) {
    throw new RangeError(`Cannot classify a flow from ${features.length} features: need 23`);
  }
  const foreign = foreignVerdict(service);
  if (foreign !== undefined) return foreign;
  const model = builtinModels().pick(options.timeout ?? 120);
  const proba = model.proba(features);
  if (scratch.length !== proba.length) scratch = new Float64Array(proba.length);
  return builtinGuard().judge(model, proba, features, 0, scratch);
}

/**
 * `recognizeFlow()` for many flows at once: `features` holds 23 features per flow, row-major,
 * and `services[i]` the protocol and ports of flow i. The model scores every flow it is asked
 * about in one batch (the SIMD kernel); the verdicts are `recognizeFlow()`'s, flow by flow.
 */
export function recognizeFlows(
  features: Float64Array,
  services: readonly (FlowService | undefined)[],
  options: RecognizeFlowOptions = {},
): GuardedClass[] {
  const rows = services.length;
  if (features.length < rows * 23) {
    throw new RangeError(
      `Cannot classify ${rows} flows from ${features.length} values: need 23 each`,
    );
  }
  const verdicts = services.map(foreignVerdict);
  const asked: number[] = [];
  verdicts.forEach((v, r) => {
    if (v === undefined) asked.push(r);
  });
  if (asked.length === 0) return verdicts as GuardedClass[];
  const x = new Float64Array(asked.length * 23);
  asked.forEach((r, i) => x.set(features.subarray(r * 23, r * 23 + 23), i * 23));
  const model = builtinModels().pick(options.timeout ?? 120);
  const proba = model.probaMany(x, asked.length);
  const K = model.classes.length;
  if (scratch.length !== K) scratch = new Float64Array(K);
  const guard = builtinGuard();
  asked.forEach((r, i) => {
    verdicts[r] = guard.judge(model, proba.subarray(i * K, i * K + K), x, i * 23, scratch);
  });
  return verdicts as GuardedClass[];
}
