import { decodeTrees, encodeTrees, fromBase64, toBase64 } from "./_codec.ts";
import { derivedNames, deriveFeatures } from "./derive_features.ts";
import { featureNames } from "./feature_names.ts";
import {
  type Boosting,
  type BoostingOptions,
  boostingProba,
  boostingProbaMany,
  trainBoosting,
} from "./train_boosting.ts";
import { hyperparameters } from "./hyperparameters.ts";

/** Serialised form of one `TrafficModel` (see `toJSON()`). */
export interface TrafficModelJson {
  format: "qts-traffic-model/1";
  classes: string[];
  features: string[];
  derived: string[];
  /** Flow timeout (s) of the training flows, or null when mixed or unknown. */
  timeout: number | null;
  trainedOn: string[];
  rows: number;
  seed: number;
  hyperparameters: Record<string, unknown>;
  bias: number[];
  /** Per model feature, base64 float64 bin edges. */
  cuts: string[];
  trees: number;
  /** base64 preorder nodes, two bytes each. */
  nodes: string;
  /** base64 float32 leaf values. */
  leaves: string;
}

/** Options of `TrafficModel.train()`. */
export interface TrainTrafficOptions {
  /** Overrides of the shipped hyperparameters. */
  hyperparameters?: BoostingOptions;
  seed?: number;
  timeout?: number | null;
  trainedOn?: string[];
}

/** Rows to train on: raw ISCX features, row-major, 23 columns. */
export interface TrafficRows {
  x: Float64Array;
  y: Int32Array;
  rows: number;
  classes: readonly string[];
}

const inputWidth = featureNames.length;

/**
 * The shipped traffic classifier: ISCX time features widened by `deriveFeatures()`, then a
 * softmax gradient-boosted tree ensemble. Training is seeded: same rows + seed → same JSON.
 */
export class TrafficModel {
  readonly classes: readonly string[];
  readonly timeout: number | null;
  readonly trainedOn: readonly string[];
  readonly seed: number;
  readonly rows: number;
  readonly options: BoostingOptions;
  readonly booster: Boosting;
  #scratchIn = new Float64Array(inputWidth);
  #scratchOut = new Float64Array(inputWidth + derivedNames.length);

  private constructor(init: {
    classes: readonly string[];
    timeout: number | null;
    trainedOn: readonly string[];
    seed: number;
    rows: number;
    options: BoostingOptions;
    booster: Boosting;
  }) {
    this.classes = init.classes;
    this.timeout = init.timeout;
    this.trainedOn = init.trainedOn;
    this.seed = init.seed;
    this.rows = init.rows;
    this.options = init.options;
    this.booster = init.booster;
  }

  /** Trains on raw ISCX rows with the shipped hyperparameters (or the given overrides). */
  static train(data: TrafficRows, options: TrainTrafficOptions = {}): TrafficModel {
    const seed = options.seed ?? 1;
    const merged: BoostingOptions = { ...hyperparameters, ...options.hyperparameters, seed };
    const width = inputWidth + derivedNames.length;
    const booster = trainBoosting(
      { x: deriveFeatures(data.x, data.rows), y: data.y, width, classes: data.classes.length },
      merged,
    );
    return new TrafficModel({
      classes: [...data.classes],
      timeout: options.timeout ?? null,
      trainedOn: options.trainedOn ?? [],
      seed,
      rows: data.rows,
      options: merged,
      booster,
    });
  }

  /** Class probabilities for the 23 raw features of the row at `base` of `x`. */
  proba(
    x: ArrayLike<number>,
    base = 0,
    out: Float64Array = new Float64Array(this.classes.length),
  ): Float64Array {
    const row = this.#scratchIn;
    for (let f = 0; f < inputWidth; f++) {
      const v = x[base + f];
      row[f] = typeof v === "number" ? v : Number.NaN;
    }
    deriveFeatures(row, 1, this.#scratchOut);
    boostingProba(this.booster, this.#scratchOut, 0, out);
    return out;
  }

  /**
   * Class probabilities of `rows` rows of raw features (row-major, 23 columns) as a
   * `rows × classes` array, bit-identical to `proba()` row by row and, from 16 rows on, about
   * ten times as fast (the SIMD kernel of `_ensemble_kernel.ts`).
   */
  probaMany(x: Float64Array, rows: number): Float64Array {
    if (x.length < rows * inputWidth) {
      throw new RangeError(`Cannot classify ${rows} rows from ${x.length} values: need 23 each`);
    }
    const out = new Float64Array(rows * this.classes.length);
    const width = inputWidth + derivedNames.length;
    boostingProbaMany(this.booster, deriveFeatures(x, rows), width, rows, out);
    return out;
  }

  /** The JSON form; `TrafficModel.fromJSON()` restores a model that predicts identically. */
  toJSON(): TrafficModelJson {
    const { nodes, leaves } = encodeTrees(this.booster.trees, this.booster.cuts);
    const params: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(this.options)) {
      // JSON has no Infinity; an absent limit means unlimited.
      if (key !== "seed" && (Number.isFinite(value) || typeof value === "string")) {
        params[key] = value;
      }
    }
    return {
      format: "qts-traffic-model/1",
      classes: [...this.classes],
      features: [...featureNames],
      derived: [...derivedNames],
      timeout: this.timeout,
      trainedOn: [...this.trainedOn],
      rows: this.rows,
      seed: this.seed,
      hyperparameters: params,
      bias: [...this.booster.bias],
      cuts: this.booster.cuts.map(toBase64),
      trees: this.booster.trees.length,
      nodes: toBase64(nodes),
      leaves: toBase64(leaves),
    };
  }

  /** Restores a model from `toJSON()` output, checking its shape. */
  static fromJSON(json: unknown, source = "model"): TrafficModel {
    const j = json as Partial<TrafficModelJson> | null;
    if (j === null || typeof j !== "object" || j.format !== "qts-traffic-model/1") {
      throw new TypeError(`Cannot load ${source}: not a qts-traffic-model/1 object`);
    }
    const same = (a: unknown, b: readonly string[]) =>
      Array.isArray(a) && a.length === b.length && a.every((v, i) => v === b[i]);
    if (!same(j.features, featureNames) || !same(j.derived, derivedNames)) {
      throw new TypeError(`Cannot load ${source}: trained on other feature columns`);
    }
    if (
      !Array.isArray(j.classes) || !Array.isArray(j.bias) || j.bias.length !== j.classes.length ||
      !Array.isArray(j.cuts) || j.cuts.length !== inputWidth + derivedNames.length ||
      typeof j.trees !== "number" || j.trees % j.classes.length !== 0 ||
      typeof j.nodes !== "string" || typeof j.leaves !== "string"
    ) {
      throw new TypeError(`Cannot load ${source}: classes, bias, cuts or trees are malformed`);
    }
    const cuts = j.cuts.map((text, f) => new Float64Array(fromBase64(text, `cuts[${f}]`)));
    const trees = decodeTrees(
      new Uint8Array(fromBase64(j.nodes, "nodes")),
      new Float32Array(fromBase64(j.leaves, "leaves")),
      j.trees,
      cuts,
    );
    const options = { ...(j.hyperparameters ?? {}) } as BoostingOptions;
    return new TrafficModel({
      classes: j.classes.map(String),
      timeout: typeof j.timeout === "number" ? j.timeout : null,
      trainedOn: Array.isArray(j.trainedOn) ? j.trainedOn.map(String) : [],
      seed: typeof j.seed === "number" ? j.seed : 0,
      rows: typeof j.rows === "number" ? j.rows : 0,
      options,
      booster: {
        kind: "boosting",
        classes: j.classes.length,
        width: inputWidth + derivedNames.length,
        bias: Float64Array.from(j.bias.map(Number)),
        cuts,
        trees,
      },
    });
  }
}
