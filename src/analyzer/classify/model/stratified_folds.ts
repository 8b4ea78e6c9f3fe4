import { createRng } from "./_rng.ts";

/**
 * Assigns each row to one of `k` folds so that every class is spread as evenly as possible
 * (stratified k-fold, rows shuffled within each class by the seed). Returns the fold per row.
 */
export function stratifiedFolds(y: ArrayLike<number>, k: number, seed = 1): Int32Array {
  if (!Number.isInteger(k) || k < 2) {
    throw new RangeError(`Cannot split into ${k} folds: need k ≥ 2`);
  }
  const rng = createRng(seed);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < y.length; i++) {
    const list = byClass.get(y[i]!) ?? [];
    list.push(i);
    byClass.set(y[i]!, list);
  }
  const fold = new Int32Array(y.length);
  // Continue the round-robin across classes so small classes do not all start at fold 0.
  let next = 0;
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const rows = byClass.get(label)!;
    for (let i = rows.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [rows[i], rows[j]] = [rows[j]!, rows[i]!];
    }
    for (const row of rows) {
      fold[row] = next;
      next = (next + 1) % k;
    }
  }
  return fold;
}
