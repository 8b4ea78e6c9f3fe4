import { TrafficModel, type TrafficModelJson } from "./traffic_model.ts";

/** Serialised `ModelSet`: the shipped file and `qts model train --out` write this. */
export interface ModelSetJson {
  format: "qts-traffic-model-set/1";
  /** Free text: how the set was made. */
  note: string;
  models: TrafficModelJson[];
}

/**
 * One or more traffic models, one per flow timeout of their training flows; `pick()` chooses the
 * one whose timeout is closest to the analyzer's (ratio distance, so 60 s is nearer 120 s than 15 s).
 */
export class ModelSet {
  readonly models: readonly TrafficModel[];
  readonly note: string;

  constructor(models: readonly TrafficModel[], note = "") {
    if (models.length === 0) throw new RangeError("Cannot build a model set: no models");
    this.models = models;
    this.note = note;
  }

  /** The model for flows cut at `timeout` seconds; the first one when timeouts are unknown. */
  pick(timeout?: number | null): TrafficModel {
    if (timeout === undefined || timeout === null || !(timeout > 0)) return this.models[0]!;
    let best = this.models[0]!, bestDistance = Infinity;
    for (const model of this.models) {
      if (model.timeout === null) continue;
      const distance = Math.abs(Math.log(model.timeout / timeout));
      if (distance < bestDistance) {
        bestDistance = distance;
        best = model;
      }
    }
    return best;
  }

  /** JSON form, stable for the same models. */
  toJSON(): ModelSetJson {
    return {
      format: "qts-traffic-model-set/1",
      note: this.note,
      models: this.models.map((model) => model.toJSON()),
    };
  }

  /** Loads a set, or a bare `qts-traffic-model/1` object as a set of one. */
  static fromJSON(json: unknown, source = "model"): ModelSet {
    const j = json as Partial<ModelSetJson> | null;
    if (j !== null && typeof j === "object" && j.format === "qts-traffic-model-set/1") {
      if (!Array.isArray(j.models)) {
        throw new TypeError(`Cannot load ${source}: "models" is not a list`);
      }
      return new ModelSet(
        j.models.map((m, i) => TrafficModel.fromJSON(m, `${source} model ${i}`)),
        typeof j.note === "string" ? j.note : "",
      );
    }
    return new ModelSet([TrafficModel.fromJSON(json, source)]);
  }
}
