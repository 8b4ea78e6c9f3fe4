import { createRng, deriveSeed, type Rng } from "./_rng.ts";
import { leafOffset, type Tree, TreeBuilder } from "./_tree.ts";

/** Options of `trainForest()`; the defaults are scikit-learn's RandomForestClassifier ones. */
export interface ForestOptions {
  /** Number of trees (200). */
  trees?: number;
  /** Features tried per split; default ⌊√width⌋. */
  maxFeatures?: number;
  /** Sample rows with replacement per tree (true); extra-trees use false. */
  bootstrap?: boolean;
  /** "best" = exhaustive CART split (random forest); "random" = one random cut per feature (extra-trees). */
  splitter?: "best" | "random";
  /** Depth limit (unlimited). */
  maxDepth?: number;
  /** Minimum rows in a leaf (1). */
  minSamplesLeaf?: number;
  /** Reweight classes to equal total weight ("none"). */
  classWeight?: "none" | "balanced";
  /** PRNG seed (1). */
  seed?: number;
}

/** A trained forest: leaf values are class distributions, averaged over trees. */
export interface Forest {
  kind: "forest";
  classes: number;
  width: number;
  trees: Tree[];
}

interface Work {
  cols: Float64Array[];
  y: Int32Array;
  classes: number;
  order: Uint32Array[];
  lists: Uint32Array[];
  tmp: Uint32Array;
  goLeft: Uint8Array;
  weight: Float64Array;
  perm: Int32Array;
}

function argsort(col: Float64Array): Uint32Array {
  const idx = new Uint32Array(col.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  // Ties keep row order, so the order is deterministic.
  return Uint32Array.from([...idx].sort((a, b) => col[a]! - col[b]! || a - b));
}

function growTree(work: Work, options: Required<ForestOptions>, rng: Rng): Tree {
  const { cols, y, classes: K, order, lists, tmp, goLeft, weight: w, perm } = work;
  const F = cols.length;
  const rows = y.length;
  let m = 0;
  for (let i = 0; i < rows; i++) if (w[i]! > 0) m++;
  for (let f = 0; f < F; f++) {
    const src = order[f]!, dst = lists[f]!;
    let j = 0;
    for (let p = 0; p < rows; p++) {
      const i = src[p]!;
      if (w[i]! > 0) dst[j++] = i;
    }
  }
  const builder = new TreeBuilder();
  const totals = new Float64Array(K);
  const leftCounts = new Float64Array(K);
  const rightCounts = new Float64Array(K);
  const dist = new Float64Array(K);
  const stack: number[] = [builder.add(), 0, m, 0];
  const minLeaf = options.minSamplesLeaf;
  while (stack.length > 0) {
    const depth = stack.pop()!, end = stack.pop()!, start = stack.pop()!, node = stack.pop()!;
    totals.fill(0);
    const l0 = lists[0]!;
    let W = 0;
    for (let p = start; p < end; p++) {
      const i = l0[p]!;
      totals[y[i]!]! += w[i]!;
      W += w[i]!;
    }
    let present = 0;
    let sumSq = 0;
    for (let k = 0; k < K; k++) {
      if (totals[k]! > 0) present++;
      sumSq += totals[k]! * totals[k]!;
    }
    const leaf = () => {
      for (let k = 0; k < K; k++) dist[k] = totals[k]! / W;
      builder.setLeaf(node, dist);
    };
    if (present <= 1 || end - start < 2 * minLeaf || depth >= options.maxDepth) {
      leaf();
      continue;
    }
    let bestScore = -Infinity, bestFeature = -1, bestThreshold = 0;
    for (let f = 0; f < F; f++) perm[f] = f;
    let tried = 0;
    for (let q = 0; q < F && tried < options.maxFeatures; q++) {
      const r = q + rng.int(F - q);
      const f = perm[r]!;
      perm[r] = perm[q]!;
      perm[q] = f;
      const col = cols[f]!, list = lists[f]!;
      const lo = col[list[start]!]!, hi = col[list[end - 1]!]!;
      if (!(hi > lo)) continue;
      tried++;
      if (options.splitter === "random") {
        let threshold = lo + rng.next() * (hi - lo);
        if (threshold >= hi) threshold = lo;
        leftCounts.fill(0);
        let WL = 0, p = start;
        while (p < end && col[list[p]!]! <= threshold) {
          const i = list[p]!;
          leftCounts[y[i]!]! += w[i]!;
          WL += w[i]!;
          p++;
        }
        if (p - start < minLeaf || end - p < minLeaf) continue;
        let sqL = 0, sqR = 0;
        for (let k = 0; k < K; k++) {
          const a = leftCounts[k]!, b = totals[k]! - a;
          sqL += a * a;
          sqR += b * b;
        }
        const score = sqL / WL + sqR / (W - WL);
        if (score > bestScore) {
          bestScore = score;
          bestFeature = f;
          bestThreshold = threshold;
        }
        continue;
      }
      leftCounts.fill(0);
      rightCounts.set(totals);
      let sqL = 0, sqR = sumSq, WL = 0, WR = W;
      for (let p = start; p < end - 1; p++) {
        const i = list[p]!;
        const c = y[i]!, wi = w[i]!;
        const lc = leftCounts[c]!, rc = rightCounts[c]!;
        sqL += wi * (2 * lc + wi);
        sqR += wi * (wi - 2 * rc);
        leftCounts[c] = lc + wi;
        rightCounts[c] = rc - wi;
        WL += wi;
        WR -= wi;
        const v = col[i]!, vn = col[list[p + 1]!]!;
        if (!(vn > v)) continue;
        if (p + 1 - start < minLeaf || end - p - 1 < minLeaf) continue;
        const score = sqL / WL + sqR / WR;
        if (score > bestScore) {
          bestScore = score;
          bestFeature = f;
          let threshold = v / 2 + vn / 2;
          if (!(threshold < vn)) threshold = v;
          bestThreshold = threshold;
        }
      }
    }
    if (bestFeature < 0) {
      leaf();
      continue;
    }
    const splitCol = cols[bestFeature]!;
    let nLeft = 0;
    const l = lists[bestFeature]!;
    for (let p = start; p < end; p++) {
      const i = l[p]!;
      const left = splitCol[i]! <= bestThreshold ? 1 : 0;
      goLeft[i] = left;
      nLeft += left;
    }
    for (let f = 0; f < F; f++) {
      const list = lists[f]!;
      let a = start, b = 0;
      for (let p = start; p < end; p++) {
        const i = list[p]!;
        if (goLeft[i] === 1) list[a++] = i;
        else tmp[b++] = i;
      }
      for (let j = 0; j < b; j++) list[a + j] = tmp[j]!;
    }
    const leftNode = builder.add(), rightNode = builder.add();
    builder.setSplit(node, bestFeature, bestThreshold, leftNode, rightNode);
    const mid = start + nLeft;
    stack.push(rightNode, mid, end, depth + 1, leftNode, start, mid, depth + 1);
  }
  return builder.build();
}

/**
 * Trains a random forest (CART, Gini, bootstrap, ⌊√width⌋ features per split, fully grown — the
 * scikit-learn defaults) or, with `splitter: "random"` and `bootstrap: false`, extra-trees.
 * `x` is row-major `y.length × width`.
 */
export function trainForest(
  data: { x: Float64Array; y: Int32Array; width: number; classes: number },
  options: ForestOptions = {},
): Forest {
  const { x, y, width, classes } = data;
  const rows = y.length;
  const opts: Required<ForestOptions> = {
    trees: options.trees ?? 200,
    maxFeatures: options.maxFeatures ?? Math.max(1, Math.floor(Math.sqrt(width))),
    bootstrap: options.bootstrap ?? true,
    splitter: options.splitter ?? "best",
    maxDepth: options.maxDepth ?? Infinity,
    minSamplesLeaf: options.minSamplesLeaf ?? 1,
    classWeight: options.classWeight ?? "none",
    seed: options.seed ?? 1,
  };
  const cols: Float64Array[] = [];
  for (let f = 0; f < width; f++) {
    const col = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      const v = x[r * width + f]!;
      // NaN goes right at prediction time; +Infinity sorts it there in training too.
      col[r] = Number.isNaN(v) ? Infinity : v;
    }
    cols.push(col);
  }
  const classWeight = new Float64Array(classes).fill(1);
  if (opts.classWeight === "balanced") {
    const counts = new Float64Array(classes);
    for (let r = 0; r < rows; r++) counts[y[r]!]!++;
    for (let k = 0; k < classes; k++) {
      classWeight[k] = counts[k]! > 0 ? rows / (classes * counts[k]!) : 0;
    }
  }
  const work: Work = {
    cols,
    y,
    classes,
    order: cols.map(argsort),
    lists: cols.map(() => new Uint32Array(rows)),
    tmp: new Uint32Array(rows),
    goLeft: new Uint8Array(rows),
    weight: new Float64Array(rows),
    perm: new Int32Array(width),
  };
  const trees: Tree[] = [];
  for (let t = 0; t < opts.trees; t++) {
    const rng = createRng(deriveSeed(opts.seed, t));
    const w = work.weight;
    if (opts.bootstrap) {
      w.fill(0);
      for (let n = 0; n < rows; n++) w[rng.int(rows)]!++;
    } else {
      w.fill(1);
    }
    for (let r = 0; r < rows; r++) w[r] = w[r]! * classWeight[y[r]!]!;
    trees.push(growTree(work, opts, rng));
  }
  return { kind: "forest", classes, width, trees };
}

/** Adds the forest's averaged class distribution for the row at `base` into `out` (length classes). */
export function forestProba(
  forest: Forest,
  x: ArrayLike<number>,
  base: number,
  out: Float64Array,
): void {
  out.fill(0);
  const K = forest.classes;
  for (const tree of forest.trees) {
    const at = leafOffset(tree, x, base);
    const values = tree.values;
    for (let k = 0; k < K; k++) out[k]! += values[at + k]!;
  }
  const n = forest.trees.length;
  for (let k = 0; k < K; k++) out[k] = out[k]! / n;
}
