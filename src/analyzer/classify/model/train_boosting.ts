import { type EnsembleKernel, ensembleKernel } from "./_ensemble_kernel.ts";
import { createRng } from "./_rng.ts";
import { leafOffset, type Tree, TreeBuilder } from "./_tree.ts";
import { stratifiedFolds } from "./stratified_folds.ts";

/** Options of `trainBoosting()`. */
export interface BoostingOptions {
  /** Boosting rounds (one tree per class each round) (300). */
  rounds?: number;
  /** Shrinkage applied to every leaf (0.1). */
  learningRate?: number;
  /** Leaves per tree, grown best-first (31). */
  maxLeaves?: number;
  /** Depth limit (unlimited). */
  maxDepth?: number;
  /** Minimum rows in a leaf (10). */
  minChildSamples?: number;
  /** Minimum summed Hessian in a leaf (1e-3). */
  minChildWeight?: number;
  /** L2 penalty on leaf values (1). */
  lambda?: number;
  /** Fraction of features offered to each tree (1). */
  featureFraction?: number;
  /** Fraction of rows sampled (without replacement) each round (1). */
  baggingFraction?: number;
  /** Histogram bins per feature, at most 256 (255). */
  maxBins?: number;
  /** Reweight classes: "balanced" gives each class equal weight, "sqrt" the square root of that. */
  classWeight?: "none" | "balanced" | "sqrt";
  /** Hold out this fraction (stratified) to pick the number of rounds (0 = use all rounds). */
  validationFraction?: number;
  /** Stop after this many rounds without a better validation log-loss (30). */
  earlyStoppingRounds?: number;
  /** PRNG seed (1). */
  seed?: number;
}

/** A trained softmax gradient-boosted tree ensemble; trees are stored round-major. */
export interface Boosting {
  kind: "boosting";
  classes: number;
  width: number;
  /** Initial raw score per class (log prior). */
  bias: Float64Array;
  /** Per feature, the histogram bin edges; every tree threshold is one of them. */
  cuts: Float64Array[];
  trees: Tree[];
}

interface Bins {
  /** Row-major bin codes, rows × width. */
  codes: Uint8Array;
  /** Per feature, the upper value of every bin but the last (`x <= cuts[b]` ⇔ bin ≤ b). */
  cuts: Float64Array[];
}

function makeBins(x: Float64Array, rows: number, width: number, maxBins: number): Bins {
  const codes = new Uint8Array(rows * width);
  const cuts: Float64Array[] = [];
  const col = new Float64Array(rows);
  for (let f = 0; f < width; f++) {
    for (let r = 0; r < rows; r++) {
      const v = x[r * width + f]!;
      col[r] = Number.isNaN(v) ? Infinity : v;
    }
    const sorted = Float64Array.from(col).sort();
    const distinct: number[] = [];
    const counts: number[] = [];
    for (let i = 0; i < rows; i++) {
      if (i === 0 || sorted[i] !== sorted[i - 1]) {
        distinct.push(sorted[i]!);
        counts.push(1);
      } else counts[counts.length - 1]!++;
    }
    const cut: number[] = [];
    const mid = (a: number, b: number) => {
      const m = a / 2 + b / 2;
      return m < b ? m : a;
    };
    if (distinct.length <= maxBins) {
      for (let i = 0; i + 1 < distinct.length; i++) cut.push(mid(distinct[i]!, distinct[i + 1]!));
    } else {
      // Equal-frequency bins over the distinct values, cutting only between distinct values.
      const perBin = rows / maxBins;
      let filled = 0, inBin = 0;
      for (let i = 0; i + 1 < distinct.length && cut.length < maxBins - 1; i++) {
        filled += counts[i]!;
        inBin += counts[i]!;
        if (inBin >= perBin || filled >= (cut.length + 1) * perBin) {
          cut.push(mid(distinct[i]!, distinct[i + 1]!));
          inBin = 0;
        }
      }
    }
    const cutArray = Float64Array.from(cut);
    cuts.push(cutArray);
    for (let r = 0; r < rows; r++) {
      const v = col[r]!;
      let lo = 0, hi = cutArray.length;
      while (lo < hi) {
        const m = (lo + hi) >> 1;
        if (v <= cutArray[m]!) hi = m;
        else lo = m + 1;
      }
      codes[r * width + f] = lo;
    }
  }
  return { codes, cuts };
}

interface Leaf {
  node: number;
  start: number;
  end: number;
  depth: number;
  hist: Float64Array;
  G: number;
  H: number;
  gain: number;
  feature: number;
  bin: number;
}

/**
 * Trains a multi-class gradient-boosted tree ensemble (softmax loss, second-order leaf values,
 * histogram split finding, best-first growth, shrinkage, optional row/feature subsampling and
 * early stopping on a stratified inner validation split). `x` is row-major `y.length × width`.
 */
export function trainBoosting(
  data: { x: Float64Array; y: Int32Array; width: number; classes: number },
  options: BoostingOptions = {},
): Boosting {
  const { width: F, classes: K } = data;
  const o = {
    rounds: options.rounds ?? 300,
    learningRate: options.learningRate ?? 0.1,
    maxLeaves: options.maxLeaves ?? 31,
    maxDepth: options.maxDepth ?? Infinity,
    minChildSamples: options.minChildSamples ?? 10,
    minChildWeight: options.minChildWeight ?? 1e-3,
    lambda: options.lambda ?? 1,
    featureFraction: options.featureFraction ?? 1,
    baggingFraction: options.baggingFraction ?? 1,
    maxBins: Math.min(options.maxBins ?? 255, 256),
    classWeight: options.classWeight ?? "none",
    validationFraction: options.validationFraction ?? 0,
    earlyStoppingRounds: options.earlyStoppingRounds ?? 30,
    seed: options.seed ?? 1,
  };
  const rng = createRng(o.seed);
  // Inner validation split for early stopping.
  const validRows: number[] = [];
  let trainRows: number[] = [];
  if (o.validationFraction > 0) {
    const folds = stratifiedFolds(
      data.y,
      Math.max(2, Math.round(1 / o.validationFraction)),
      o.seed,
    );
    for (let i = 0; i < data.y.length; i++) (folds[i] === 0 ? validRows : trainRows).push(i);
  } else trainRows = Array.from(data.y, (_, i) => i);
  const n = trainRows.length;
  const x = new Float64Array(n * F);
  const y = new Int32Array(n);
  trainRows.forEach((r, i) => {
    x.set(data.x.subarray(r * F, r * F + F), i * F);
    y[i] = data.y[r]!;
  });
  const { codes, cuts } = makeBins(x, n, F, o.maxBins);
  const B = o.maxBins;

  const classCount = new Float64Array(K);
  for (let i = 0; i < n; i++) classCount[y[i]!]!++;
  const classWeight = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    const balanced = classCount[k]! > 0 ? n / (K * classCount[k]!) : 0;
    classWeight[k] = o.classWeight === "balanced"
      ? balanced
      : o.classWeight === "sqrt"
      ? Math.sqrt(balanced)
      : 1;
  }
  const rowWeight = new Float64Array(n);
  let weightSum = 0;
  for (let i = 0; i < n; i++) weightSum += rowWeight[i] = classWeight[y[i]!]!;
  const bias = new Float64Array(K);
  {
    const prior = new Float64Array(K);
    for (let i = 0; i < n; i++) prior[y[i]!]! += rowWeight[i]!;
    let mean = 0;
    for (let k = 0; k < K; k++) mean += bias[k] = Math.log(Math.max(prior[k]! / weightSum, 1e-6));
    mean /= K;
    for (let k = 0; k < K; k++) bias[k] = bias[k]! - mean;
  }
  const score = new Float64Array(n * K);
  for (let i = 0; i < n; i++) score.set(bias, i * K);
  const prob = new Float64Array(n * K);
  const grad = new Float64Array(n), hess = new Float64Array(n);
  const idx = new Uint32Array(n);
  const histSize = F * B * 3;
  const pool: Float64Array[] = [];
  const takeHist = () => pool.pop()?.fill(0) ?? new Float64Array(histSize);
  const hessFactor = K / (K - 1);
  const featureMask = new Uint8Array(F);
  const features: number[] = [];

  const validScore = new Float64Array(validRows.length * K);
  for (let v = 0; v < validRows.length; v++) validScore.set(bias, v * K);
  let bestLoss = Infinity, bestRound = 0;
  const trees: Tree[] = [];

  const buildHist = (hist: Float64Array, start: number, end: number) => {
    const nf = features.length;
    for (let p = start; p < end; p++) {
      const i = idx[p]!;
      const g = grad[i]!, h = hess[i]!, base = i * F;
      for (let q = 0; q < nf; q++) {
        const f = features[q]!;
        const at = (f * B + codes[base + f]!) * 3;
        hist[at] = hist[at]! + g;
        hist[at + 1] = hist[at + 1]! + h;
        hist[at + 2] = hist[at + 2]! + 1;
      }
    }
  };
  const findSplit = (leaf: Leaf) => {
    leaf.gain = 0;
    leaf.feature = -1;
    const count = leaf.end - leaf.start;
    if (count < 2 * o.minChildSamples || leaf.depth >= o.maxDepth) return;
    const { G, H, hist } = leaf;
    const parent = (G * G) / (H + o.lambda);
    for (const f of features) {
      const nb = cuts[f]!.length + 1;
      let GL = 0, HL = 0, CL = 0;
      const base = f * B * 3;
      for (let b = 0; b < nb - 1; b++) {
        const at = base + b * 3;
        GL += hist[at]!;
        HL += hist[at + 1]!;
        CL += hist[at + 2]!;
        if (CL < o.minChildSamples || HL < o.minChildWeight) continue;
        const CR = count - CL, HR = H - HL;
        if (CR < o.minChildSamples) break;
        if (HR < o.minChildWeight) continue;
        const GR = G - GL;
        const gain = (GL * GL) / (HL + o.lambda) + (GR * GR) / (HR + o.lambda) - parent;
        if (gain > leaf.gain) {
          leaf.gain = gain;
          leaf.feature = f;
          leaf.bin = b;
        }
      }
    }
  };

  for (let round = 0; round < o.rounds; round++) {
    for (let i = 0; i < n; i++) {
      const base = i * K;
      let max = -Infinity;
      for (let k = 0; k < K; k++) max = Math.max(max, score[base + k]!);
      let sum = 0;
      for (let k = 0; k < K; k++) sum += prob[base + k] = Math.exp(score[base + k]! - max);
      for (let k = 0; k < K; k++) prob[base + k] = prob[base + k]! / sum;
    }
    // Row bagging: one sample per round shared by the K class trees.
    let m = 0;
    if (o.baggingFraction < 1) {
      for (let i = 0; i < n; i++) if (rng.next() < o.baggingFraction) idx[m++] = i;
    } else {
      for (let i = 0; i < n; i++) idx[m++] = i;
    }
    const bagged = m;
    for (let k = 0; k < K; k++) {
      features.length = 0;
      featureMask.fill(0);
      if (o.featureFraction < 1) {
        const want = Math.max(1, Math.round(F * o.featureFraction));
        const perm = Array.from({ length: F }, (_, f) => f);
        for (let q = 0; q < want; q++) {
          const r = q + rng.int(F - q);
          [perm[q], perm[r]] = [perm[r]!, perm[q]!];
          featureMask[perm[q]!] = 1;
        }
        for (let f = 0; f < F; f++) if (featureMask[f] === 1) features.push(f);
      } else for (let f = 0; f < F; f++) features.push(f);
      let G = 0, H = 0;
      for (let p = 0; p < bagged; p++) {
        const i = idx[p]!;
        const pk = prob[i * K + k]!, w = rowWeight[i]!;
        const g = w * (pk - (y[i] === k ? 1 : 0));
        const h = w * Math.max(hessFactor * pk * (1 - pk), 1e-16);
        grad[i] = g;
        hess[i] = h;
        G += g;
        H += h;
      }
      const builder = new TreeBuilder();
      const nodeBin: number[] = [];
      const rootHist = takeHist();
      buildHist(rootHist, 0, bagged);
      const root: Leaf = {
        node: builder.add(),
        start: 0,
        end: bagged,
        depth: 0,
        hist: rootHist,
        G,
        H,
        gain: 0,
        feature: -1,
        bin: 0,
      };
      nodeBin.push(0);
      findSplit(root);
      const leaves: Leaf[] = [root];
      while (leaves.length < o.maxLeaves) {
        let best = -1;
        for (let l = 0; l < leaves.length; l++) {
          if (leaves[l]!.feature >= 0 && (best < 0 || leaves[l]!.gain > leaves[best]!.gain)) {
            best = l;
          }
        }
        if (best < 0) break;
        const leaf = leaves[best]!;
        const f = leaf.feature, bin = leaf.bin;
        let a = leaf.start, b = leaf.end - 1;
        while (a <= b) {
          if (codes[idx[a]! * F + f]! <= bin) a++;
          else {
            const t = idx[a]!;
            idx[a] = idx[b]!;
            idx[b--] = t;
          }
        }
        const leftNode = builder.add(), rightNode = builder.add();
        nodeBin.push(0, 0);
        builder.setSplit(leaf.node, f, cuts[f]![bin]!, leftNode, rightNode);
        nodeBin[leaf.node] = bin;
        const left: Leaf = {
          node: leftNode,
          start: leaf.start,
          end: a,
          depth: leaf.depth + 1,
          hist: leaf.hist,
          G: 0,
          H: 0,
          gain: 0,
          feature: -1,
          bin: 0,
        };
        const right: Leaf = { ...left, node: rightNode, start: a, end: leaf.end };
        // Histogram subtraction: scan the smaller child, derive the larger from the parent.
        const small = left.end - left.start <= right.end - right.start ? left : right;
        const large = small === left ? right : left;
        small.hist = takeHist();
        buildHist(small.hist, small.start, small.end);
        large.hist = leaf.hist;
        const ph = large.hist, sh = small.hist;
        for (const g of features) {
          const from = g * B * 3, to = from + (cuts[g]!.length + 1) * 3;
          for (let t = from; t < to; t++) ph[t] = ph[t]! - sh[t]!;
        }
        for (const child of [left, right]) {
          let cg = 0, ch = 0;
          for (let p = child.start; p < child.end; p++) {
            cg += grad[idx[p]!]!;
            ch += hess[idx[p]!]!;
          }
          child.G = cg;
          child.H = ch;
          findSplit(child);
        }
        leaves[best] = left;
        leaves.push(right);
      }
      const value = new Float64Array(1);
      for (const leaf of leaves) {
        // float32 so that a saved model predicts exactly what the trainer scored.
        value[0] = Math.fround((-leaf.G / (leaf.H + o.lambda)) * o.learningRate);
        builder.setLeaf(leaf.node, value);
        pool.push(leaf.hist);
      }
      const tree = builder.build();
      // Update training scores by walking bins (exact for in-bag and out-of-bag rows alike).
      for (let i = 0; i < n; i++) {
        let node = 0;
        let f = tree.feature[0]!;
        const base = i * F;
        while (f >= 0) {
          node = codes[base + f]! <= nodeBin[node]! ? tree.left[node]! : tree.right[node]!;
          f = tree.feature[node]!;
        }
        score[i * K + k] = score[i * K + k]! + tree.values[tree.left[node]!]!;
      }
      trees.push(tree);
      for (let v = 0; v < validRows.length; v++) {
        const at = leafOffset(tree, data.x, validRows[v]! * F);
        validScore[v * K + k] = validScore[v * K + k]! + tree.values[at]!;
      }
    }
    if (validRows.length > 0) {
      let loss = 0;
      for (let v = 0; v < validRows.length; v++) {
        const base = v * K;
        let max = -Infinity;
        for (let k = 0; k < K; k++) max = Math.max(max, validScore[base + k]!);
        let sum = 0;
        for (let k = 0; k < K; k++) sum += Math.exp(validScore[base + k]! - max);
        loss += Math.log(sum) + max - validScore[base + data.y[validRows[v]!]!]!;
      }
      if (loss < bestLoss - 1e-9) {
        bestLoss = loss;
        bestRound = round + 1;
      } else if (round + 1 - bestRound >= o.earlyStoppingRounds) break;
    }
  }
  if (validRows.length > 0) trees.length = bestRound * K;
  return { kind: "boosting", classes: K, width: F, bias, cuts, trees };
}

/** All trees of a model in one preorder node array: left child = next node, leaves hold values. */
interface Packed {
  /** Feature per node, −1 for a leaf. */
  feature: Int32Array;
  /** Threshold of a split, output of a leaf. */
  value: Float64Array;
  /** Right child of a split. */
  right: Int32Array;
  /** Root node of every tree. */
  roots: Int32Array;
}

const packedCache = new WeakMap<Boosting, Packed>();

function pack(model: Boosting): Packed {
  let size = 0;
  for (const tree of model.trees) size += tree.feature.length;
  const feature = new Int32Array(size),
    value = new Float64Array(size),
    right = new Int32Array(size);
  const roots = new Int32Array(model.trees.length);
  let at = 0;
  model.trees.forEach((tree, t) => {
    roots[t] = at;
    // Preorder with an explicit stack of (node, packed parent waiting for it as right child).
    const stack: Array<[node: number, parent: number]> = [[0, -1]];
    while (stack.length > 0) {
      const [node, parent] = stack.pop()!;
      const i = at++;
      if (parent >= 0) right[parent] = i;
      const f = tree.feature[node]!;
      feature[i] = f;
      if (f < 0) {
        value[i] = tree.values[tree.left[node]!]!;
        continue;
      }
      value[i] = tree.threshold[node]!;
      stack.push([tree.right[node]!, i], [tree.left[node]!, -1]);
    }
  });
  return { feature, value, right, roots };
}

function softmaxInPlace(out: Float64Array, at: number, K: number): void {
  let max = -Infinity;
  for (let k = 0; k < K; k++) max = Math.max(max, out[at + k]!);
  let sum = 0;
  for (let k = 0; k < K; k++) sum += out[at + k] = Math.exp(out[at + k]! - max);
  for (let k = 0; k < K; k++) out[at + k] = out[at + k]! / sum;
}

function packedFor(model: Boosting): Packed {
  let packed = packedCache.get(model);
  if (!packed) {
    packed = pack(model);
    packedCache.set(model, packed);
  }
  return packed;
}

const kernelCache = new WeakMap<Boosting, EnsembleKernel | null>();

/** The model compiled for the SIMD kernel, or undefined when it does not fit (then: the walk). */
export function boostingKernel(model: Boosting): EnsembleKernel | undefined {
  let kernel = kernelCache.get(model);
  if (kernel === undefined) {
    kernel = ensembleKernel(model) ?? null;
    kernelCache.set(model, kernel);
  }
  return kernel ?? undefined;
}

/** Below this many rows one SIMD pass (64 rows) costs more than walking the trees row by row. */
const KERNEL_MIN_ROWS = 16;

/**
 * Class probabilities of `rows` rows of `x` (row-major, `width` columns) into `out`
 * (`rows × classes`), bit-identical to `boostingProba()` row by row. Batches go through the SIMD
 * kernel (`_ensemble_kernel.ts`, 64 rows per pass through every tree); small batches, and models
 * the kernel cannot take, walk four rows through each tree together: the walks are independent,
 * so the CPU overlaps their loads and mispredicted branches.
 */
export function boostingProbaMany(
  model: Boosting,
  x: Float64Array,
  width: number,
  rows: number,
  out: Float64Array,
): void {
  const K = model.classes;
  const kernel = rows >= KERNEL_MIN_ROWS ? boostingKernel(model) : undefined;
  if (kernel !== undefined) {
    kernel.rawScores(x, width, rows, out);
    for (let r = 0; r < rows; r++) softmaxInPlace(out, r * K, K);
    return;
  }
  boostingWalkMany(model, x, width, rows, out);
}

/** `boostingProbaMany()` by walking the trees, four rows at a time. */
export function boostingWalkMany(
  model: Boosting,
  x: Float64Array,
  width: number,
  rows: number,
  out: Float64Array,
): void {
  const { feature, value, right, roots } = packedFor(model);
  const K = model.classes;
  const rounds = roots.length / K;
  let r0 = 0;
  for (; r0 + 4 <= rows; r0 += 4) {
    const b0 = r0 * width, b1 = b0 + width, b2 = b1 + width, b3 = b2 + width;
    const o0 = r0 * K, o1 = o0 + K, o2 = o1 + K, o3 = o2 + K;
    for (let k = 0; k < K; k++) {
      out[o0 + k] =
        out[o1 + k] =
        out[o2 + k] =
        out[o3 + k] =
          model.bias[k]!;
    }
    let t = 0;
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < K; k++) {
        const root = roots[t++]!;
        let n0 = root, n1 = root, n2 = root, n3 = root;
        let f0 = feature[root]!, f1 = f0, f2 = f0, f3 = f0;
        while (f0 >= 0 || f1 >= 0 || f2 >= 0 || f3 >= 0) {
          if (f0 >= 0) {
            n0 = x[b0 + f0]! <= value[n0]! ? n0 + 1 : right[n0]!;
            f0 = feature[n0]!;
          }
          if (f1 >= 0) {
            n1 = x[b1 + f1]! <= value[n1]! ? n1 + 1 : right[n1]!;
            f1 = feature[n1]!;
          }
          if (f2 >= 0) {
            n2 = x[b2 + f2]! <= value[n2]! ? n2 + 1 : right[n2]!;
            f2 = feature[n2]!;
          }
          if (f3 >= 0) {
            n3 = x[b3 + f3]! <= value[n3]! ? n3 + 1 : right[n3]!;
            f3 = feature[n3]!;
          }
        }
        out[o0 + k] = out[o0 + k]! + value[n0]!;
        out[o1 + k] = out[o1 + k]! + value[n1]!;
        out[o2 + k] = out[o2 + k]! + value[n2]!;
        out[o3 + k] = out[o3 + k]! + value[n3]!;
      }
    }
    for (const o of [o0, o1, o2, o3]) softmaxInPlace(out, o, K);
  }
  const one = new Float64Array(K);
  for (; r0 < rows; r0++) {
    boostingProba(model, x, r0 * width, one);
    out.set(one, r0 * K);
  }
}

/** Writes the class probabilities of the row at `base` into `out` (length classes). */
export function boostingProba(
  model: Boosting,
  x: ArrayLike<number>,
  base: number,
  out: Float64Array,
): void {
  const { feature, value, right, roots } = packedFor(model);
  const K = model.classes;
  out.set(model.bias);
  const rounds = roots.length / K;
  let t = 0;
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < K; k++) {
      let node = roots[t++]!;
      let f = feature[node]!;
      while (f >= 0) {
        node = x[base + f]! <= value[node]! ? node + 1 : right[node]!;
        f = feature[node]!;
      }
      out[k] = out[k]! + value[node]!;
    }
  }
  softmaxInPlace(out, 0, K);
}
