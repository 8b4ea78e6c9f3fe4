/**
 * MurmurHash3's 32-bit finalizer: spreads every input bit over all 32 output bits. FNV-1a alone
 * moves the high bits little when only the last characters differ (`10.0.0.1`, `10.0.0.2`), so
 * anything that orders hashes (a consistent-hash ring) mixes them first: `mix32(fnv1a(text))`.
 */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
