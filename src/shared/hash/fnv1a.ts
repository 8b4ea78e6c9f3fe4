/** FNV-1a's 32-bit offset basis: the default seed. */
export const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * FNV-1a over UTF-16 code units, 32 bits: the project's one fast string hash (worker sharding,
 * per-IP slot keys, distinct-IP counting). Not for anything an attacker must not collide.
 */
export function fnv1a(text: string, seed: number = FNV_OFFSET): number {
  let h = seed;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

/** FNV-1a over `bytes[start, end)`, continuing from `seed` (a previous hash or the offset). */
export function fnv1aBytes(
  bytes: Uint8Array,
  start: number,
  end: number,
  seed: number = FNV_OFFSET,
): number {
  let h = seed;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, FNV_PRIME);
  return h >>> 0;
}

/** One FNV-1a step over a whole number (a field value instead of a byte). */
export function fnv1aStep(h: number, value: number): number {
  return Math.imul(h ^ value, FNV_PRIME);
}
