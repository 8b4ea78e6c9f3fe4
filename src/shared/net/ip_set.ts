import { ipKey, parseIPv4, parseIPv6Hex } from "./ip.ts";

/**
 * A set of IPv4 and IPv6 CIDR ranges. Ranges are sorted and merged once, then looked up by
 * binary search: ~20 comparisons for a million entries, no per-entry objects.
 */
export class IpSet {
  readonly #v4Start: Uint32Array;
  readonly #v4End: Uint32Array;
  readonly #v6Start: string[];
  readonly #v6End: string[];
  /** Number of entries given (before merging). */
  readonly size: number;

  private constructor(
    v4: [number, number][],
    v6: [string, string][],
    size: number,
  ) {
    const m4 = mergeRanges(v4, (a, b) => a - b, (end, start) => start <= end + 1);
    this.#v4Start = Uint32Array.from(m4.map((r) => r[0]));
    this.#v4End = Uint32Array.from(m4.map((r) => r[1]));
    const m6 = mergeRanges(
      v6,
      (a, b) => (a < b ? -1 : a > b ? 1 : 0),
      (end, start) => start <= end,
    );
    this.#v6Start = m6.map((r) => r[0]);
    this.#v6End = m6.map((r) => r[1]);
    this.size = size;
  }

  /**
   * Builds a set from CIDR or plain address entries. `where(i)` names the entry in errors
   * (`file:line`). Throws TypeError for an entry that is not an address or CIDR.
   */
  static from(entries: Iterable<string>, where: (index: number) => string): IpSet {
    const v4: [number, number][] = [];
    const v6: [string, string][] = [];
    let index = 0;
    let size = 0;
    for (const raw of entries) {
      const entry = raw.trim();
      const at = index++;
      if (entry === "" || entry.startsWith("#")) continue;
      size++;
      const slash = entry.indexOf("/");
      const addr = slash < 0 ? entry : entry.slice(0, slash);
      const bitsText = slash < 0 ? undefined : entry.slice(slash + 1);
      const n4 = parseIPv4(addr);
      if (n4 !== undefined) {
        const bits = prefixBits(bitsText, 32, entry, where(at));
        const hostBits = 32 - bits;
        const start = hostBits === 32 ? 0 : Math.floor(n4 / 2 ** hostBits) * 2 ** hostBits;
        v4.push([start, start + 2 ** hostBits - 1]);
        continue;
      }
      const hex = addr.includes(":") ? parseIPv6Hex(addr) : undefined;
      if (hex === undefined) {
        throw new TypeError(`${where(at)}: "${entry}" is not an IP address or CIDR`);
      }
      const bits = prefixBits(bitsText, 128, entry, where(at));
      const value = BigInt("0x" + hex);
      const hostBits = BigInt(128 - bits);
      const mask = (1n << hostBits) - 1n;
      const start = value & ~mask;
      const end = start | mask;
      if (hex.startsWith("00000000000000000000ffff") && bits >= 96) {
        v4.push([Number(start & 0xffffffffn), Number(end & 0xffffffffn)]);
        continue;
      }
      v6.push([start.toString(16).padStart(32, "0"), end.toString(16).padStart(32, "0")]);
    }
    return new IpSet(v4, v6, size);
  }

  /** True when the address text is inside any range. */
  has(ip: string): boolean {
    const key = ipKey(ip);
    if (!key) return false;
    if (key.v === 4) return search(this.#v4Start, this.#v4End, key.n);
    return search(this.#v6Start, this.#v6End, key.hex);
  }
}

function prefixBits(text: string | undefined, max: number, entry: string, where: string): number {
  if (text === undefined) return max;
  if (!/^\d{1,3}$/.test(text) || Number(text) > max) {
    throw new TypeError(`${where}: "${entry}" has an invalid prefix length (0..${max})`);
  }
  return Number(text);
}

function mergeRanges<T>(
  ranges: [T, T][],
  compare: (a: T, b: T) => number,
  touches: (end: T, start: T) => boolean,
): [T, T][] {
  ranges.sort((a, b) => compare(a[0], b[0]));
  const out: [T, T][] = [];
  for (const range of ranges) {
    const last = out[out.length - 1];
    if (last && touches(last[1], range[0])) {
      if (compare(range[1], last[1]) > 0) last[1] = range[1];
    } else out.push([range[0], range[1]]);
  }
  return out;
}

function search<T extends number | string>(
  starts: ArrayLike<T>,
  ends: ArrayLike<T>,
  value: T,
): boolean {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! > value) hi = mid - 1;
    else if (ends[mid]! < value) lo = mid + 1;
    else return true;
  }
  return false;
}
