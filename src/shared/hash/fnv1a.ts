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

const DOT = 0x2e;
const ZERO = 0x30;

/**
 * FNV-1a of an IPv4 address's dotted text (`fnv1a(formatIPv4(ip))`) without making the string:
 * the ingest thread shards every record by client, and most carry a numeric address only.
 */
export function fnv1aIPv4(ip: number): number {
  let h = FNV_OFFSET;
  for (let shift = 24; shift >= 0; shift -= 8) {
    const octet = (ip >>> shift) & 255;
    if (octet >= 100) h = fnv1aStep(h, ZERO + Math.floor(octet / 100));
    if (octet >= 10) h = fnv1aStep(h, ZERO + Math.floor(octet / 10) % 10);
    h = fnv1aStep(h, ZERO + octet % 10);
    if (shift > 0) h = fnv1aStep(h, DOT);
  }
  return h >>> 0;
}
