/**
 * Mutations shared by the targets: byte-level (bit flips, truncation, inserted and duplicated
 * ranges, extreme 32-bit values for length fields), text-level (tokens of the format), and
 * tree-level for parsed documents (values swapped for other types, keys removed or invented,
 * subtrees copied across).
 * @module
 */

import { createRng, type Rng } from "./_random.ts";

/** Extreme u32 values: lengths, counts and offsets at and around their limits. */
export const EDGE_U32 = [
  0,
  1,
  2,
  0x7f,
  0x80,
  0xff,
  0x100,
  0xffff,
  0x10000,
  0x7fffffff,
  0x80000000,
  0xfffffffe,
  0xffffffff,
] as const;

/** Copies `base` and applies 1..`maxOps` random byte-level mutations. `from` biases positions. */
export function mutateBytes(base: Uint8Array, rng: Rng, maxOps = 4, from = 0): Uint8Array {
  let b: Uint8Array = base.slice();
  const ops = 1 + rng.below(maxOps);
  for (let k = 0; k < ops; k++) {
    const lo = Math.min(from, b.length);
    const at = lo + rng.below(b.length - lo + (b.length === lo ? 1 : 0));
    switch (rng.below(9)) {
      case 0:
      case 1:
        if (at < b.length) b[at] = b[at]! ^ (1 << rng.below(8));
        break;
      case 2:
        if (at < b.length) b[at] = rng.next() & 0xff;
        break;
      case 3:
        b = b.subarray(0, at).slice();
        break;
      case 4: {
        // An extreme u32 in either byte order at an arbitrary offset (length prefixes).
        if (at + 4 <= b.length) {
          new DataView(b.buffer, b.byteOffset).setUint32(at, rng.pick(EDGE_U32), rng.chance(0.5));
        }
        break;
      }
      case 5: {
        // A small delta on a u32 (off-by-one lengths).
        if (at + 4 <= b.length) {
          const view = new DataView(b.buffer, b.byteOffset);
          const le = rng.chance(0.5);
          view.setUint32(at, (view.getUint32(at, le) + rng.pick([-2, -1, 1, 2, 4])) >>> 0, le);
        }
        break;
      }
      case 6:
        b = splice(b, at, 0, rng.bytes(rng.below(32)));
        break;
      case 7: {
        const start = rng.below(b.length + 1);
        const len = Math.min(rng.below(256), b.length - start);
        b = splice(b, at, 0, b.slice(start, start + len));
        break;
      }
      default: {
        const len = Math.min(rng.below(64), b.length - at);
        b = splice(b, at, len, new Uint8Array(0));
      }
    }
  }
  return b;
}

/** `bytes` with `remove` bytes at `at` replaced by `insert`. */
export function splice(
  bytes: Uint8Array,
  at: number,
  remove: number,
  insert: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at));
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A random string: ASCII, Latin-1, CJK, emoji, controls and NULs, mixed. */
export function randomString(rng: Rng, maxLength: number): string {
  const n = rng.below(maxLength + 1);
  let s = "";
  for (let i = 0; i < n; i++) {
    const r = rng.below(20);
    if (r < 12) s += String.fromCharCode(0x20 + rng.below(0x5f));
    else if (r < 14) s += String.fromCharCode(rng.below(0x20));
    else if (r < 16) s += String.fromCharCode(0xa0 + rng.below(0x60));
    else if (r < 18) s += String.fromCharCode(0x4e00 + rng.below(0x500));
    else s += String.fromCodePoint(0x1f600 + rng.below(0x50));
  }
  return s;
}

/** Copies `text` and applies 1..`maxOps` text mutations, inserting `tokens` of the format. */
export function mutateText(text: string, rng: Rng, tokens: readonly string[], maxOps = 3): string {
  let t = text;
  const ops = 1 + rng.below(maxOps);
  for (let k = 0; k < ops; k++) {
    const at = rng.below(t.length + 1);
    switch (rng.below(8)) {
      case 0:
        t = t.slice(0, at) + rng.pick(tokens) + t.slice(at);
        break;
      case 1:
        t = t.slice(0, at) + t.slice(at + 1 + rng.below(16));
        break;
      case 2:
        t = t.slice(0, at) + randomString(rng, 8) + t.slice(at);
        break;
      case 3: {
        // Duplicate a line elsewhere.
        const lines = t.split("\n");
        const line = rng.pick(lines);
        lines.splice(rng.below(lines.length + 1), 0, line);
        t = lines.join("\n");
        break;
      }
      case 4: {
        // Delete or swap lines.
        const lines = t.split("\n");
        const i = rng.below(lines.length);
        if (rng.chance(0.5)) lines.splice(i, 1);
        else {
          const j = rng.below(lines.length);
          [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        }
        t = lines.join("\n");
        break;
      }
      case 5:
        t = t.slice(0, at);
        break;
      case 6: {
        // Change a digit run into an extreme number.
        const m = /\d+/g;
        m.lastIndex = at;
        const found = m.exec(t);
        if (found) {
          const value = rng.pick(["0", "-1", "4294967296", "1e309", "0x10", "9".repeat(30), "1.5"]);
          t = t.slice(0, found.index) + value + t.slice(found.index + found[0].length);
        }
        break;
      }
      default:
        if (at < t.length) {
          t = t.slice(0, at) + String.fromCharCode(t.charCodeAt(at) ^ (1 << rng.below(7))) +
            t.slice(at + 1);
        }
    }
  }
  return t;
}

/**
 * One of 512 fixed random strings (see {@linkcode randomString}): the same variety, but a
 * regex field given one compiles it once per run instead of once per input.
 */
function pooledString(rng: Rng, maxLength: number): string {
  return randomString(createRng(0x5eed0000 + rng.below(512)), maxLength);
}

/** How {@linkcode mutateTree} invents values. */
export interface TreeOptions {
  /** The tree will be written as YAML (NaN and ±Infinity allowed). */
  yaml: boolean;
  /** 1..maxOps mutations. Default 3. */
  maxOps?: number;
  /**
   * Invent strings and regex patterns never seen before (RE2 compiles each, ~300 µs). Otherwise
   * they come from fixed pools, so regex fields mostly see patterns already compiled. Default
   * true.
   */
  novel?: boolean;
  /**
   * Values up to 70,000 characters, 1,000 items and 2,000 levels deep; otherwise up to 4,096,
   * 20 and 30 (a YAML parser takes ~10–35 ms on the large ones). Default true.
   */
  big?: boolean;
}

/** Values a field of any type may be swapped for. */
function oddValue(rng: Rng, o: Required<TreeOptions>): unknown {
  const { yaml, novel, big } = o;
  switch (rng.below(24)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1, 2, 0.5, -0.5, 1e308, -1e308, 2 ** 53 + 2, 4294967296, 65536]);
    case 3:
      return yaml ? rng.pick([NaN, Infinity, -Infinity]) : rng.below(100);
    case 4:
      return "";
    case 5:
      return novel ? randomString(rng, 40) : pooledString(rng, 40);
    case 6:
      return "x".repeat(rng.pick(big ? [256, 4096, 70000] : [256, 4096]));
    case 7:
      // Regex-like strings: valid, RE2-invalid, catastrophic for backtracking engines.
      return rng.pick([
        "(a+)+$",
        "^(?:a|aa)*$",
        "(?<=a)b",
        "(a)\\1",
        "[",
        "a{1001}",
        "(?i)abc",
        "\\C",
        "\\p{Greek}",
        ".*.*.*=.*",
        "^$",
        "(((((((((((((((((((((x)))))))))))))))))))))",
      ]);
    case 8:
      // Unique patterns: a compile cache must not grow without bound.
      return `^u${(novel ? rng.next() : rng.below(256)).toString(36)}[a-z]+$`;
    case 9:
      return [];
    case 10:
      return {};
    case 11:
      return Array.from({ length: 1 + rng.below(5) }, () => oddValue(rng, o));
    case 12:
      return {
        [rng.pick(["name", "enabled", "__proto__", "constructor", "x"])]: oddValue(rng, o),
      };
    case 13: {
      // Deep nesting.
      let v: unknown = 1;
      const depth = rng.pick(big ? [10, 100, 2000] : [10, 30]);
      for (let i = 0; i < depth; i++) v = rng.chance(0.5) ? [v] : { a: v };
      return v;
    }
    case 14:
      return rng.pick(["true", "false", "yes", "on", "0", "1e3", "10r/s", "5r/m", "0r/s", "1r/0"]);
    case 15:
      return rng.pick(["10.0.0.0/8", "::/0", "2001:db8::/129", "1.2.3.4/33", "1.2.3", "0.0.0.0/0"]);
    case 16:
      return rng.pick(["block", "watch", "auto", "off", "simulate", "local", "memcached", "ip"]);
    case 17:
      return rng.pick(["2024-01-01T00:00:00Z", "not a date", "1700000000"]);
    case 18:
      return Array.from({ length: rng.pick(big ? [100, 1000] : [20]) }, (_, i) => `item${i}`);
    default:
      return rng.below(1000);
  }
}

/** Every container node of a tree with its path, for picking mutation points. */
function containers(root: unknown): unknown[] {
  const out: unknown[] = [];
  const stack = [root];
  while (stack.length > 0 && out.length < 5000) {
    const node = stack.pop();
    if (typeof node !== "object" || node === null) continue;
    out.push(node);
    for (const v of Object.values(node)) stack.push(v);
  }
  return out;
}

/**
 * A structurally mutated deep copy of a parsed document: values swapped for odd ones or for
 * another subtree, keys removed, invented or renamed. Keeps most of the document valid, so the
 * mutations reach the checks past the first schema error.
 */
export function mutateTree(doc: unknown, rng: Rng, options: TreeOptions): unknown {
  try {
    return mutateTreeOnce(doc, rng, options);
  } catch (error) {
    // Grafting a 2,000-level value under another can outgrow structuredClone's stack (it
    // depends on JIT state): that is the generator's limit, not a finding, so send the original.
    if (!(error instanceof RangeError)) throw error;
    return structuredClone(doc);
  }
}

function mutateTreeOnce(doc: unknown, rng: Rng, options: TreeOptions): unknown {
  const o: Required<TreeOptions> = { maxOps: 3, novel: true, big: true, ...options };
  const root = { root: structuredClone(doc) };
  const ops = 1 + rng.below(o.maxOps);
  for (let k = 0; k < ops; k++) {
    const nodes = containers(root);
    const node = rng.pick(nodes) as Record<string, unknown>;
    const keys = Object.keys(node);
    const key = keys.length > 0 ? rng.pick(keys) : "x";
    switch (rng.below(7)) {
      case 0:
      case 1:
      case 2:
        node[key] = oddValue(rng, o);
        break;
      case 3: {
        // Crossover: a value from elsewhere in the document (valid there, maybe not here).
        const other = rng.pick(nodes) as Record<string, unknown>;
        const otherKeys = Object.keys(other);
        if (otherKeys.length > 0) node[key] = structuredClone(other[rng.pick(otherKeys)]);
        break;
      }
      case 4:
        if (Array.isArray(node)) node.splice(Number(key), 1);
        else if (node !== root) delete node[key];
        break;
      case 5:
        if (Array.isArray(node)) node.push(structuredClone(node[Number(key)]));
        else if (node !== root) {
          node[rng.pick(["unknown_field", "enabled", "name", "skip_if", key + "_"])] = oddValue(
            rng,
            o,
          );
        }
        break;
      default:
        if (!Array.isArray(node) && node !== root && keys.length > 0) {
          const value = node[key];
          delete node[key];
          node[key.toUpperCase() === key ? key.toLowerCase() : key.toUpperCase()] = value;
        }
    }
  }
  return root.root;
}
