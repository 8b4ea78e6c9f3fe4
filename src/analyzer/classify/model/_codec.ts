import { Buffer } from "node:buffer";
import type { Tree } from "./_tree.ts";

/** Encodes a typed array's bytes as base64 (little-endian, as every supported platform is). */
export function toBase64(array: ArrayBufferView): string {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString("base64");
}

/** Decodes base64 into a fresh, aligned byte buffer. */
export function fromBase64(text: string, what: string): ArrayBuffer {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new SyntaxError(`Cannot load model: ${what} is not base64`);
  }
  const bytes = Buffer.from(text, "base64");
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
}

const LEAF = 255;

/**
 * Packs boosting trees in preorder: two bytes per node (feature, bin; feature 255 marks a leaf)
 * plus one float32 per leaf. Thresholds come back from the shared bin edges, so they are exact.
 */
export function encodeTrees(
  trees: readonly Tree[],
  cuts: readonly Float64Array[],
): { nodes: Uint8Array; leaves: Float32Array } {
  const nodes: number[] = [];
  const leaves: number[] = [];
  for (const tree of trees) {
    const stack = [0];
    while (stack.length > 0) {
      const node = stack.pop()!;
      const f = tree.feature[node]!;
      if (f < 0) {
        nodes.push(LEAF, 0);
        leaves.push(tree.values[tree.left[node]!]!);
        continue;
      }
      const bin = cuts[f]!.indexOf(tree.threshold[node]!);
      if (f >= LEAF || bin < 0 || bin > 255) {
        throw new RangeError(`Cannot encode tree: node ${node} splits off the bin edges`);
      }
      nodes.push(f, bin);
      stack.push(tree.right[node]!, tree.left[node]!);
    }
  }
  return { nodes: Uint8Array.from(nodes), leaves: Float32Array.from(leaves) };
}

/** Unpacks `count` trees written by `encodeTrees()`. */
export function decodeTrees(
  nodes: Uint8Array,
  leaves: Float32Array,
  count: number,
  cuts: readonly Float64Array[],
): Tree[] {
  const trees: Tree[] = [];
  let at = 0, leafAt = 0;
  for (let t = 0; t < count; t++) {
    const feature: number[] = [],
      threshold: number[] = [],
      left: number[] = [],
      right: number[] = [];
    const values: number[] = [];
    // Internal nodes still waiting for a child; the next node is the left child of the top,
    // or its right child when the left is done.
    const open: number[] = [];
    do {
      if (at + 1 >= nodes.length) {
        throw new RangeError(`Cannot decode model: tree ${t} is cut short`);
      }
      const i = feature.length;
      if (open.length > 0) {
        const parent = open[open.length - 1]!;
        if (left[parent]! < 0) left[parent] = i;
        else {
          right[parent] = i;
          open.pop();
        }
      }
      const f = nodes[at]!, bin = nodes[at + 1]!;
      at += 2;
      if (f === LEAF) {
        if (leafAt >= leaves.length) throw new RangeError(`Cannot decode model: too few leaves`);
        feature.push(-1);
        threshold.push(0);
        left.push(values.length);
        right.push(0);
        values.push(leaves[leafAt++]!);
      } else {
        const edge = cuts[f]?.[bin];
        if (edge === undefined) {
          throw new RangeError(`Cannot decode model: tree ${t} uses feature ${f} bin ${bin}`);
        }
        feature.push(f);
        threshold.push(edge);
        left.push(-1);
        right.push(-1);
        open.push(i);
      }
    } while (open.length > 0);
    trees.push({
      feature: Int32Array.from(feature),
      threshold: Float64Array.from(threshold),
      left: Int32Array.from(left),
      right: Int32Array.from(right),
      values: Float64Array.from(values),
    });
  }
  if (at !== nodes.length || leafAt !== leaves.length) {
    throw new RangeError(`Cannot decode model: ${nodes.length - at} node bytes left over`);
  }
  return trees;
}
