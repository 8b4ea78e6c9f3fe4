/**
 * Seeded randomness for the fuzzer: every input is generated from `(seed, index)` alone, so a
 * failure is reproduced by its seed and index (or by the input file it was written to).
 * @module
 */

/** A source of pseudo-random numbers: `next()` a u32, the rest derived from it. */
export interface Rng {
  /** A uniform u32. */
  next(): number;
  /** A uniform integer in `[0, n)`; 0 when `n` ≤ 0. */
  below(n: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** `n` random bytes. */
  bytes(n: number): Uint8Array;
}

/** mulberry32 over a u32 state (the same generator as tests/_support/random.ts). */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const below = (n: number): number => (n <= 0 ? 0 : Math.floor((next() / 4294967296) * n));
  return {
    next,
    below,
    chance: (p) => next() / 4294967296 < p,
    pick: <T>(items: readonly T[]): T => items[below(items.length)]!,
    bytes(n) {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = next() & 0xff;
      return out;
    },
  };
}

/** The generator of input `index` under `seed`: a hash of both, so nearby indices differ. */
export function inputRng(seed: number, index: number): Rng {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (index >>> 0) ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  h = Math.imul(h ^ Math.floor(index / 4294967296) ^ (h >>> 16), 0x27d4eb2f) >>> 0;
  return createRng(h ^ (h >>> 15));
}
