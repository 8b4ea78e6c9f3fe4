import { Buffer } from "node:buffer";
import type { Tree } from "./_tree.ts";
import { ensembleKernelWasm } from "./_ensemble_kernel_wasm.ts";

/** The trees of a boosted ensemble, round-major: tree t adds its leaf to class t mod classes. */
export interface KernelEnsemble {
  classes: number;
  width: number;
  bias: Float64Array;
  /** Per feature, the bin edges every threshold is taken from (ascending). */
  cuts: readonly Float64Array[];
  trees: readonly Tree[];
}

/** Raw scores (bias + leaf sums, before softmax) of many rows at once. */
export interface EnsembleKernel {
  /** Writes `rows × classes` raw scores of the rows of `x` (row-major, `width` columns). */
  rawScores(x: Float64Array, width: number, rows: number, out: Float64Array): void;
}

const BLOCK_SHIFT = 6;
const BLOCK = 1 << BLOCK_SHIFT; // rows per SIMD pass: eight 8-lane vectors
const MAX_BLOCKS = 16; // rows per kernel call = 1,024
const MAX_LEAVES = 16; // one 16-bit lane per row

let compiled: WebAssembly.Module | null | undefined;

/** The kernel module, or null where WebAssembly SIMD is missing (the tree walk is used then). */
function kernelModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(Buffer.from(ensembleKernelWasm, "base64"));
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** Why `model` cannot run on the kernel, or undefined when it can. */
function unsupported(model: KernelEnsemble): string | undefined {
  for (const [f, cut] of model.cuts.entries()) {
    if (cut.length >= 0x7fff) return `feature ${f} has ${cut.length} bin edges`;
    for (let i = 1; i < cut.length; i++) {
      if (!(cut[i - 1]! < cut[i]!)) return `feature ${f}'s bin edges are not ascending`;
    }
  }
  for (const [t, tree] of model.trees.entries()) {
    let leaves = 0;
    for (let n = 0; n < tree.feature.length; n++) {
      const f = tree.feature[n]!;
      if (f < 0) leaves++;
      else if (f >= model.width || model.cuts[f]!.indexOf(tree.threshold[n]!) < 0) {
        return `tree ${t} splits off the bin edges`;
      }
    }
    if (leaves > MAX_LEAVES) return `tree ${t} has ${leaves} leaves`;
  }
  return undefined;
}

/** Appends `tree`'s internal nodes (8 bytes each) and its leaf values, leaves numbered in order. */
function flatten(
  tree: Tree,
  cuts: readonly Float64Array[],
  nodes: DataView,
  at: number,
  leaves: Float64Array,
  leafAt: number,
): number {
  let next = 0;
  // Returns the bit mask of the leaves under `n`.
  const visit = (n: number): number => {
    const f = tree.feature[n]!;
    if (f < 0) {
      leaves[leafAt + next] = tree.values[tree.left[n]!]!;
      return 1 << next++;
    }
    const leftBits = visit(tree.left[n]!);
    const rightBits = visit(tree.right[n]!);
    nodes.setInt32(at, f * 2 * BLOCK, true); // byte offset of the feature's codes in a block
    nodes.setUint16(at + 4, cuts[f]!.indexOf(tree.threshold[n]!), true);
    nodes.setUint16(at + 6, leftBits, true);
    at += 8;
    return leftBits | rightBits;
  };
  visit(0);
  return at;
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/**
 * Compiles a boosted ensemble for the SIMD kernel (`_ensemble_kernel.wat`): the same sums as
 * walking every tree, added in the same order, so the scores are bit-identical. Undefined when
 * the model does not fit the kernel (more than 16 leaves in a tree, thresholds off the bin edges)
 * or WebAssembly SIMD is unavailable; callers then walk the trees.
 */
export function ensembleKernel(model: KernelEnsemble): EnsembleKernel | undefined {
  const wasm = kernelModule();
  if (wasm === null || unsupported(model) !== undefined) return undefined;
  const { classes: K, width: W, trees, cuts, bias } = model;
  let internal = 0;
  for (const tree of trees) for (const f of tree.feature) if (f >= 0) internal++;
  const nodesAt = BLOCK * 2; // after the scratch masks
  const countsAt = align(nodesAt + internal * 8, 8);
  const leavesAt = align(countsAt + trees.length * 4, 8);
  const codesAt = align(leavesAt + trees.length * MAX_LEAVES * 8, 16);
  const codeStride = W * 2 * BLOCK;
  const accAt = align(codesAt + MAX_BLOCKS * codeStride, 16);
  const end = accAt + MAX_BLOCKS * BLOCK * K * 8;
  const instance = new WebAssembly.Instance(wasm, {});
  const memory = instance.exports.memory as WebAssembly.Memory;
  memory.grow(Math.max(0, Math.ceil(end / 65536) - memory.buffer.byteLength / 65536));
  const buffer = memory.buffer;
  const view = new DataView(buffer);
  const leaves = new Float64Array(buffer, leavesAt, trees.length * MAX_LEAVES);
  const counts = new Int32Array(buffer, countsAt, trees.length);
  let at = nodesAt;
  trees.forEach((tree, t) => {
    const from = at;
    at = flatten(tree, cuts, view, at, leaves, t * MAX_LEAVES);
    counts[t] = (at - from) / 8;
  });
  const codes = new Uint16Array(buffer, codesAt, MAX_BLOCKS * BLOCK * W);
  const acc = new Float64Array(buffer, accAt, MAX_BLOCKS * BLOCK * K);
  const score = instance.exports.score as (...args: number[]) => void;

  return {
    rawScores(x: Float64Array, width: number, rows: number, out: Float64Array): void {
      if (width < W || x.length < rows * width || out.length < rows * K) {
        throw new RangeError(`Cannot score ${rows} rows of ${width} columns: need ${W}`);
      }
      for (let r0 = 0; r0 < rows; r0 += MAX_BLOCKS * BLOCK) {
        const n = Math.min(rows - r0, MAX_BLOCKS * BLOCK);
        const blocks = Math.ceil(n / BLOCK);
        for (let f = 0; f < W; f++) {
          const cut = cuts[f]!;
          const edges = cut.length;
          for (let r = 0; r < n; r++) {
            // Bin code: the first edge ≥ v, so v <= edge[b] ⇔ code <= b; NaN goes past the last.
            const v = x[(r0 + r) * width + f]!;
            let lo = 0, hi = edges;
            if (v !== v) lo = edges;
            else {
              while (lo < hi) {
                const mid = (lo + hi) >>> 1;
                if (v <= cut[mid]!) hi = mid;
                else lo = mid + 1;
              }
            }
            codes[((r >>> BLOCK_SHIFT) * W + f) * BLOCK + (r & (BLOCK - 1))] = lo;
          }
        }
        // The kernel sums class-major within a block (64 rows of class 0, then of class 1 …).
        for (let b = 0; b < blocks; b++) {
          for (let k = 0; k < K; k++) {
            acc.fill(bias[k]!, (b * K + k) * BLOCK, (b * K + k + 1) * BLOCK);
          }
        }
        score(blocks, trees.length, K, nodesAt, countsAt, leavesAt, codesAt, codeStride, accAt);
        for (let r = 0; r < n; r++) {
          const from = (r >>> BLOCK_SHIFT) * K * BLOCK + (r & (BLOCK - 1)), to = (r0 + r) * K;
          for (let k = 0; k < K; k++) out[to + k] = acc[from + k * BLOCK]!;
        }
      }
    },
  };
}
