/**
 * A binary decision tree in flat arrays. Internal node i tests `x[feature[i]] <= threshold[i]`
 * (NaN goes right); a leaf has feature −1 and `left[i]` is the offset of its values in `values`.
 */
export interface Tree {
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  /** Leaf outputs, `width` numbers per leaf. */
  values: Float64Array;
}

/** Returns the offset into `tree.values` of the leaf that `x` (starting at `base`) reaches. */
export function leafOffset(tree: Tree, x: ArrayLike<number>, base: number): number {
  const { feature, threshold, left, right } = tree;
  let node = 0;
  let f = feature[0]!;
  while (f >= 0) {
    node = x[base + f]! <= threshold[node]! ? left[node]! : right[node]!;
    f = feature[node]!;
  }
  return left[node]!;
}

/** Growable node storage used while a tree is built. */
export class TreeBuilder {
  feature: number[] = [];
  threshold: number[] = [];
  left: number[] = [];
  right: number[] = [];
  values: number[] = [];

  /** Adds a placeholder node and returns its index. */
  add(): number {
    this.feature.push(-1);
    this.threshold.push(0);
    this.left.push(0);
    this.right.push(0);
    return this.feature.length - 1;
  }

  /** Turns node `i` into a leaf holding `values`. */
  setLeaf(i: number, values: ArrayLike<number>): void {
    this.feature[i] = -1;
    this.left[i] = this.values.length;
    this.right[i] = 0;
    for (let k = 0; k < values.length; k++) this.values.push(values[k]!);
  }

  /** Turns node `i` into a split on `feature <= threshold`. */
  setSplit(i: number, feature: number, threshold: number, left: number, right: number): void {
    this.feature[i] = feature;
    this.threshold[i] = threshold;
    this.left[i] = left;
    this.right[i] = right;
  }

  /** Freezes the nodes into typed arrays. */
  build(): Tree {
    return {
      feature: Int32Array.from(this.feature),
      threshold: Float64Array.from(this.threshold),
      left: Int32Array.from(this.left),
      right: Int32Array.from(this.right),
      values: Float64Array.from(this.values),
    };
  }
}
