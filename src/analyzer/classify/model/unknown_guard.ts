import { derivedNames, deriveFeatures } from "./derive_features.ts";
import type { FeatureRanges } from "./feature_ranges.ts";
import { featureNames } from "./feature_names.ts";
import { scaleTemperature } from "./scale_temperature.ts";
import type { TrafficModel } from "./traffic_model.ts";

/** The label of a flow the classifier will not name. */
export const UNKNOWN_LABEL = "unknown";

/** Why a flow came out `unknown`. */
export type UnknownReason =
  | "protocol" // not TCP or UDP
  | "port" // an infrastructure service no ISCX class had (foreign_service.ts)
  | "features" // time features far outside the training ranges
  | "confidence"; // calibrated top-class probability below the threshold

/** A guarded verdict: an ISCX class, or `unknown` with the reason. */
export interface GuardedClass {
  /** The class, or `unknown`. */
  label: string;
  /** Calibrated probability of `guess` (0 when the model was not asked). */
  confidence: number;
  /** The model's top class, even when `label` is `unknown` ("" when the model was not asked). */
  guess: string;
  reason?: UnknownReason;
  /** What the reason found, e.g. `udp/514 syslog` or `3 features out of range: duration, …`. */
  detail?: string;
}

/** Calibration and training ranges of one model of the set. */
export interface GuardMemberJson extends FeatureRanges {
  timeout: number | null;
  classes: string[];
  temperature: number;
}

/** Serialised `UnknownGuard` (`iscx_calibration.json`). */
export interface UnknownGuardJson {
  format: "qts-unknown-guard/1";
  /** Free text: how the file was made. */
  note: string;
  /** Calibrated confidence below which a flow is `unknown`. */
  threshold: number;
  /** A flow with at least this many columns out of range is `unknown`. */
  minOutOfRange: number;
  members: GuardMemberJson[];
  /** Held-out figures at the time of fitting, for the record (`qts model eval --unknown`). */
  figures?: Record<string, unknown>;
}

const WIDTH = featureNames.length + derivedNames.length;

/**
 * Turns a model's class probabilities into a calibrated verdict or `unknown`: temperature
 * scaling fitted on held-out predictions, then `unknown` when the flow's features lie outside
 * the training ranges or the calibrated top-class probability is below the threshold.
 */
export class UnknownGuard {
  readonly threshold: number;
  readonly minOutOfRange: number;
  readonly members: readonly GuardMemberJson[];
  readonly note: string;
  readonly figures: Record<string, unknown> | undefined;
  #row = new Float64Array(featureNames.length);
  #wide = new Float64Array(WIDTH);

  constructor(json: Omit<UnknownGuardJson, "format">) {
    this.threshold = json.threshold;
    this.minOutOfRange = json.minOutOfRange;
    this.members = json.members;
    this.note = json.note;
    this.figures = json.figures;
  }

  /** The calibration of `model` (same timeout and classes), or undefined. */
  member(model: TrafficModel): GuardMemberJson | undefined {
    return this.members.find((m) =>
      m.timeout === model.timeout && m.classes.length === model.classes.length &&
      m.classes.every((c, i) => c === model.classes[i])
    );
  }

  /** Columns of the row at `base` of `x` (23 raw features) outside the member's ranges. */
  outOfRange(member: GuardMemberJson, x: ArrayLike<number>, base = 0): string[] {
    for (let f = 0; f < featureNames.length; f++) this.#row[f] = x[base + f]!;
    deriveFeatures(this.#row, 1, this.#wide);
    const out: string[] = [];
    for (let c = 0; c < WIDTH; c++) {
      const v = this.#wide[c]!;
      // NaN fails both comparisons, so test for "inside" and negate.
      if (!(v >= member.low[c]! && v <= member.high[c]!)) out.push(member.columns[c]!);
    }
    return out;
  }

  /**
   * The verdict for the row at `base` of `x` (23 raw features) given `model`'s probabilities of
   * it. `proba` is left untouched; `scratch` receives the calibrated probabilities. A model
   * without a calibration member keeps its raw probabilities and has no range check.
   */
  judge(
    model: TrafficModel,
    proba: ArrayLike<number>,
    x: ArrayLike<number>,
    base = 0,
    scratch: Float64Array = new Float64Array(model.classes.length),
  ): GuardedClass {
    return this.decide(this.member(model), model.classes, proba, x, base, scratch);
  }

  /** `judge()` with the member (or none) and the classes given, for held-out predictions. */
  decide(
    member: GuardMemberJson | undefined,
    classes: readonly string[],
    proba: ArrayLike<number>,
    x: ArrayLike<number>,
    base = 0,
    scratch: Float64Array = new Float64Array(classes.length),
  ): GuardedClass {
    const K = classes.length;
    if (member) scaleTemperature(proba, member.temperature, scratch);
    else for (let k = 0; k < K; k++) scratch[k] = proba[k]!;
    let best = 0;
    for (let k = 1; k < K; k++) if (scratch[k]! > scratch[best]!) best = k;
    const guess = classes[best]!;
    const confidence = scratch[best]!;
    if (member) {
      const out = this.outOfRange(member, x, base);
      if (out.length >= this.minOutOfRange) {
        return {
          label: UNKNOWN_LABEL,
          confidence,
          guess,
          reason: "features",
          detail: `${out.length} features out of range: ${out.join(", ")}`,
        };
      }
    }
    if (!(confidence >= this.threshold)) {
      return {
        label: UNKNOWN_LABEL,
        confidence,
        guess,
        reason: "confidence",
        detail: `p=${confidence.toFixed(2)} < ${this.threshold}`,
      };
    }
    return { label: guess, confidence, guess };
  }

  /** The JSON form (`iscx_calibration.json`). */
  toJSON(): UnknownGuardJson {
    return {
      format: "qts-unknown-guard/1",
      note: this.note,
      threshold: this.threshold,
      minOutOfRange: this.minOutOfRange,
      members: this.members.map((m) => ({ ...m })),
      ...(this.figures !== undefined ? { figures: this.figures } : {}),
    };
  }

  /** Restores a guard from `toJSON()` output, checking its shape. */
  static fromJSON(json: unknown, source = "calibration"): UnknownGuard {
    const j = json as Partial<UnknownGuardJson> | null;
    if (j === null || typeof j !== "object" || j.format !== "qts-unknown-guard/1") {
      throw new TypeError(`Cannot load ${source}: not a qts-unknown-guard/1 object`);
    }
    if (!(typeof j.threshold === "number" && j.threshold >= 0 && j.threshold <= 1)) {
      throw new RangeError(`Cannot load ${source}: "threshold" must be a number in [0, 1]`);
    }
    if (!(typeof j.minOutOfRange === "number" && j.minOutOfRange >= 1)) {
      throw new RangeError(`Cannot load ${source}: "minOutOfRange" must be a number ≥ 1`);
    }
    if (!Array.isArray(j.members)) throw new TypeError(`Cannot load ${source}: no "members" list`);
    const columns = [...featureNames, ...derivedNames];
    j.members.forEach((m, i) => {
      const ok = m !== null && typeof m === "object" && Array.isArray(m.classes) &&
        typeof m.temperature === "number" && m.temperature > 0 && Array.isArray(m.low) &&
        Array.isArray(m.high) && m.low.length === WIDTH && m.high.length === WIDTH &&
        Array.isArray(m.columns) && m.columns.length === WIDTH &&
        m.columns.every((c, k) => c === columns[k]);
      if (!ok) {
        throw new TypeError(
          `Cannot load ${source}: member ${i} needs classes, temperature > 0 and ${WIDTH} ranges ` +
            `over the model's columns`,
        );
      }
    });
    return new UnknownGuard({
      note: typeof j.note === "string" ? j.note : "",
      threshold: j.threshold,
      minOutOfRange: j.minOutOfRange,
      members: j.members,
      ...(j.figures !== undefined ? { figures: j.figures } : {}),
    });
  }
}
