import { featureNames } from "./feature_names.ts";
import { ModelSet } from "./model_set.ts";
import type { Dataset } from "./parse_dataset.ts";
import { TrafficModel } from "./traffic_model.ts";

/** Options of `trainModelSet()`. */
export interface TrainModelSetOptions {
  /** Train one model per flow timeout found in the dataset names (false: one model for all). */
  perTimeout?: boolean;
  /** PRNG seed (1). */
  seed?: number;
  /** Called before each model is trained, for progress output. */
  onModel?: (timeout: number | null, sources: string[], rows: number) => void;
}

/** The flow timeout (s) a dataset name states, e.g. 15 for `15s-VPN.arff`, else null. */
export function timeoutFromName(name: string): number | null {
  const base = name.split(/[\\/]/).pop() ?? name;
  const match = /(?:^|[^0-9a-z])(\d+)\s*s(?:[^a-z]|$)/i.exec(base);
  return match ? Number(match[1]) : null;
}

/** Stacks datasets into one table over the union of their classes (first-seen order). */
export function mergeDatasets(datasets: readonly Dataset[]): Dataset {
  const classes: string[] = [];
  for (const d of datasets) for (const c of d.classes) if (!classes.includes(c)) classes.push(c);
  const rows = datasets.reduce((sum, d) => sum + d.rows, 0);
  const x = new Float64Array(rows * featureNames.length);
  const y = new Int32Array(rows);
  let at = 0;
  for (const d of datasets) {
    x.set(d.x, at * featureNames.length);
    for (let i = 0; i < d.rows; i++) y[at + i] = classes.indexOf(d.classes[d.y[i]!]!);
    at += d.rows;
  }
  return { source: datasets.map((d) => d.source).join("+"), classes, x, y, rows };
}

/**
 * Trains the shipped model layout: with `perTimeout`, datasets are grouped by the flow timeout in
 * their names and each group gets one model over all its classes (VPN-* and non-VPN together).
 */
export function trainModelSet(
  datasets: readonly Dataset[],
  options: TrainModelSetOptions = {},
): ModelSet {
  if (datasets.length === 0) throw new RangeError("Cannot train: no datasets given");
  const groups = new Map<number | null, Dataset[]>();
  for (const d of datasets) {
    const key = options.perTimeout ? timeoutFromName(d.source) : null;
    groups.set(key, [...(groups.get(key) ?? []), d]);
  }
  if (!options.perTimeout) {
    const timeouts = new Set(datasets.map((d) => timeoutFromName(d.source)));
    if (timeouts.size === 1) {
      const only = [...timeouts][0]!;
      groups.set(only, groups.get(null)!);
      if (only !== null) groups.delete(null);
    }
  }
  const models: TrafficModel[] = [];
  const keys = [...groups.keys()].sort((a, b) => (a ?? Infinity) - (b ?? Infinity));
  for (const timeout of keys) {
    const group = groups.get(timeout)!;
    const merged = mergeDatasets(group);
    const names = group.map((d) => d.source.split(/[\\/]/).pop() ?? d.source);
    options.onModel?.(timeout, names, merged.rows);
    models.push(
      TrafficModel.train(merged, { seed: options.seed ?? 1, timeout, trainedOn: names }),
    );
  }
  return new ModelSet(
    models,
    options.perTimeout
      ? "one softmax GBDT per flow timeout, each over the VPN-* and non-VPN classes"
      : "one softmax GBDT over all given classes",
  );
}
