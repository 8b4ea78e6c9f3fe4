import { RE2 } from "re2-wasm";
import { OrderedMap } from "../cache/ordered_map.ts";

/** A compiled pattern; `source` is the RE2 text it came from. */
export interface Matcher {
  readonly source: string;
  /** Which engine runs `test`: V8's backtracking one (proved linear, see compileRegex) or RE2. */
  readonly engine: "v8" | "re2";
  test(input: string): boolean;
}

const cache = new Map<string, Matcher>();

/**
 * Compiles an RE2 pattern. RE2 (WebAssembly, linear time, ~2 µs a call) is the judge of validity
 * and runs every pattern that is not proved safe for V8's backtracking engine (~60 ns a call).
 *
 * The proof parses the pattern itself (anything it does not know goes to RE2) and bounds the
 * backtracking work per start position by `A · m · n^d`, for a pattern of size m and input of
 * length n, where:
 * - a repeat of more than one occurrence applies to a single character set (literal, class, `.`,
 *   `\d`…, or a group of one-character alternatives); a group repeats at most 32 times, finitely
 *   (unrolled for the analysis), so star height is 1;
 * - a repeat of a set C with more than 16 choices or no upper bound adds 1 to the degree `d` of
 *   what follows it, unless C is disjoint from every character that can follow it (then the
 *   input decides each iteration and the rest runs once): `a*a*` and `\w+\d+` are degree 2,
 *   `[^?]*` then `/` and a bounded rest is degree 1;
 * - a bounded choice whose branches can start with the same character (`\.css|\.js`, `[0-9]{1,3}`
 *   before a digit) multiplies the constant `A` by its fan-out; A must stay at most 256.
 *
 * A pattern anchored with `^` runs once, so it may have degree 1; an unanchored one runs at
 * every start position, so it must have degree 0 and consume at most 256 characters an attempt,
 * after dropping what cannot change the answer of a search: a leading `.*`, and trailing repeats
 * that may match nothing (`x[0-9]*` is `x`). `^/((a+))+$`, `(a|aa)+$`, `(.*a){12}`, `(\w+\s?)*$`
 * and every other nested or overlapping repeat therefore run on RE2. V8 runs a pattern printed
 * from the parsed tree, so its meaning is RE2's (`.` excludes only `\n`, `\s` is ASCII). Throws
 * SyntaxError.
 *
 * @example
 * ```ts
 * compileRegex("^/((a+))+$").engine; // "re2"
 * compileRegex(".*(\\.css|\\.js)$").engine; // "v8"
 * ```
 */
export function compileRegex(pattern: string): Matcher {
  const known = cache.get(pattern);
  if (known) return known;
  const re2 = newRe2(pattern);
  let matcher: Matcher | undefined;
  const js = linearV8Source(pattern);
  if (js !== undefined) {
    try {
      const v8 = new RegExp(js, "u");
      matcher = { source: pattern, engine: "v8", test: (input) => v8.test(input) };
    } catch {
      // Printed source V8 refuses: keep RE2.
    }
  }
  if (matcher) {
    freeRe2(re2); // RE2 only judged validity
  } else {
    keepRe2(pattern, re2);
    matcher = { source: pattern, engine: "re2", test: (input) => liveRe2(pattern).test(input) };
  }
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(pattern, matcher);
  return matcher;
}

const CACHE_MAX = 10_000;

/**
 * RE2 objects live in WebAssembly memory that JS garbage collection never frees: without an
 * explicit delete, ~9,000 compiled patterns exhaust it and every later pattern fails. So at most
 * RE2_LIVE_MAX stay compiled (oldest compiled first out, so the hot path is one lookup); a
 * matcher whose object was evicted compiles it again on its next call.
 */
const RE2_LIVE_MAX = 2_048;
const re2Live = new OrderedMap<string, RE2>();

/** Counted for /metrics: recompiles of evicted objects, and full flushes after an OOM. */
export const re2Stats = { recompiles: 0, oom_flushes: 0 };

function newRe2(pattern: string): RE2 {
  try {
    try {
      return new RE2(pattern, "u");
    } catch (error) {
      // A few huge patterns can still fill the fixed 16 MiB heap: free every cached object (their
      // matchers recompile on demand) and try once more; the module recovers after such an abort.
      if (!/\bOOM\b/.test(String((error as Error).message)) || re2Live.size === 0) throw error;
      re2Stats.oom_flushes++;
      for (const [, re2] of re2Live) freeRe2(re2);
      re2Live.clear();
      return new RE2(pattern, "u");
    }
  } catch (error) {
    throw new SyntaxError(
      `Cannot compile regex ${JSON.stringify(pattern)}: ${
        (error as Error).message.replace(/^Invalid regular expression: \/.*\/u: /, "")
      }`,
      { cause: error },
    );
  }
}

function freeRe2(re2: RE2): void {
  (re2 as unknown as { wrapper: { delete(): void } }).wrapper.delete();
}

function keepRe2(pattern: string, re2: RE2): void {
  const old = re2Live.get(pattern);
  if (old) freeRe2(old);
  re2Live.delete(pattern);
  if (re2Live.size >= RE2_LIVE_MAX) {
    freeRe2(re2Live.oldestValue()!);
    re2Live.deleteOldest();
  }
  re2Live.set(pattern, re2);
}

function liveRe2(pattern: string): RE2 {
  const re2 = re2Live.get(pattern);
  if (re2 === undefined) {
    re2Stats.recompiles++;
    const fresh = newRe2(pattern);
    keepRe2(pattern, fresh);
    return fresh;
  }
  return re2;
}

/** How many RE2 objects are compiled now (bounded by RE2_LIVE_MAX). */
export function liveRe2Count(): number {
  return re2Live.size;
}

/**
 * The V8 source equivalent (for `test`) to the RE2 `pattern`, when backtracking on it is proved
 * linear (see compileRegex); undefined otherwise.
 */
export function linearV8Source(pattern: string): string | undefined {
  let alts: Seq[];
  try {
    alts = new Parser(pattern).parse();
  } catch (error) {
    if (error === UNSUPPORTED) return undefined;
    throw error;
  }
  // A search finds `.*X` exactly where it finds `X`: run without it (also 40× faster on V8).
  alts = alts.map((seq) => {
    const head = seq[0];
    return head?.kind === "set" && head.min === 0 && head.max === Infinity &&
        sameSet(head.set, DOT)
      ? seq.slice(1)
      : seq;
  });
  const anchored = alts.every((seq) => seq[0]?.kind === "assert" && seq[0].what === "^");
  if (!anchored) {
    // Trailing repeats that may match nothing never change whether a search matches.
    alts = alts.map((seq) => {
      let end = seq.length;
      while (end > 0) {
        const last = seq[end - 1]!;
        if (last.kind !== "set" || last.min !== 0) break;
        end--;
      }
      return seq.slice(0, end);
    });
  }
  const budget = { ambiguity: 1, steps: 0 };
  let cont: Cont;
  try {
    cont = walkAlts(alts, { first: EMPTY, degree: 0 }, budget);
  } catch (error) {
    if (error === UNSUPPORTED) return undefined;
    throw error;
  }
  if (budget.ambiguity > MAX_AMBIGUITY) return undefined;
  if (anchored ? cont.degree > 1 : cont.degree > 0 || maxLength(alts) > MAX_ATTEMPT) {
    return undefined;
  }
  return alts.map(printSeq).join("|");
}

// ---------------------------------------------------------------------------------------------
// Character sets: sorted, disjoint, non-adjacent inclusive code point ranges [lo, hi, lo, hi…].

type CharSet = readonly number[];

const MAX_CP = 0x10ffff;
const EMPTY: CharSet = [];
const DIGIT: CharSet = [0x30, 0x39];
const WORD: CharSet = [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a];
/** RE2's `\s`: ASCII `[\t\n\f\r ]` (no `\v`, no Unicode spaces, unlike V8). */
const SPACE: CharSet = [0x09, 0x0a, 0x0c, 0x0d, 0x20, 0x20];
/** RE2's `.` without the s flag: everything but `\n`. */
const DOT: CharSet = [0, 0x09, 0x0b, MAX_CP];

function single(cp: number): CharSet {
  return [cp, cp];
}

function union(a: CharSet, b: CharSet): CharSet {
  const pairs: [number, number][] = [];
  for (const s of [a, b]) for (let i = 0; i < s.length; i += 2) pairs.push([s[i]!, s[i + 1]!]);
  pairs.sort((x, y) => x[0] - y[0]);
  const out: number[] = [];
  for (const [lo, hi] of pairs) {
    const n = out.length;
    if (n > 0 && lo <= out[n - 1]! + 1) out[n - 1] = Math.max(out[n - 1]!, hi);
    else out.push(lo, hi);
  }
  return out;
}

function complement(a: CharSet): CharSet {
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < a.length; i += 2) {
    if (a[i]! > next) out.push(next, a[i]! - 1);
    next = a[i + 1]! + 1;
  }
  if (next <= MAX_CP) out.push(next, MAX_CP);
  return out;
}

function intersects(a: CharSet, b: CharSet): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i + 1]! < b[j]!) i += 2;
    else if (b[j + 1]! < a[i]!) j += 2;
    else return true;
  }
  return false;
}

function sameSet(a: CharSet, b: CharSet): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

// ---------------------------------------------------------------------------------------------
// The parsed pattern: the subset of RE2 syntax whose meaning we know exactly.

type Node =
  | { kind: "set"; set: CharSet; min: number; max: number; lazy: boolean }
  | { kind: "group"; alts: Seq[]; min: number; max: number; lazy: boolean }
  | { kind: "assert"; what: "^" | "$" | "\\b" | "\\B" };
type Seq = Node[];

/** Thrown inside the parser and the analysis: syntax we do not model, or a size cap hit. */
const UNSUPPORTED = Symbol("unsupported");
const MAX_GROUP_REPEAT = 32;
const MAX_BOUNDED_CHOICES = 16;
const MAX_AMBIGUITY = 256;
const MAX_ATTEMPT = 256;
const MAX_STEPS = 20_000;

const CLASS_ESCAPES: Record<string, CharSet> = {
  d: DIGIT,
  D: complement(DIGIT),
  w: WORD,
  W: complement(WORD),
  s: SPACE,
  S: complement(SPACE),
};
const CHAR_ESCAPES: Record<string, number> = { n: 10, t: 9, r: 13, f: 12, v: 11, a: 7 };

class Parser {
  readonly #cps: number[];
  #pos = 0;

  constructor(pattern: string) {
    this.#cps = [...pattern].map((c) => c.codePointAt(0)!);
  }

  parse(): Seq[] {
    const alts = this.#alts();
    if (this.#pos !== this.#cps.length) throw UNSUPPORTED;
    return alts;
  }

  #peek(offset = 0): string | undefined {
    const cp = this.#cps[this.#pos + offset];
    return cp === undefined ? undefined : String.fromCodePoint(cp);
  }

  #alts(): Seq[] {
    const alts: Seq[] = [this.#seq()];
    while (this.#peek() === "|") {
      this.#pos++;
      alts.push(this.#seq());
    }
    return alts;
  }

  #seq(): Seq {
    const seq: Seq = [];
    for (let c = this.#peek(); c !== undefined && c !== "|" && c !== ")"; c = this.#peek()) {
      seq.push(this.#quantified(this.#atom()));
    }
    return seq;
  }

  #atom(): Node {
    const c = this.#peek()!;
    this.#pos++;
    switch (c) {
      case "(":
        return this.#group();
      case "[":
        return setNode(this.#class());
      case ".":
        return setNode(DOT);
      case "^":
        return { kind: "assert", what: "^" };
      case "$":
        return { kind: "assert", what: "$" };
      case "\\":
        return this.#escape(false);
      case "*":
      case "+":
      case "?":
      case "{":
      case "}":
      case "]":
        throw UNSUPPORTED;
      default:
        return setNode(single(c.codePointAt(0)!));
    }
  }

  #group(): Node {
    if (this.#peek() === "?") {
      if (this.#peek(1) === ":") this.#pos += 2;
      else if (this.#peek(1) === "P" && this.#peek(2) === "<") {
        this.#pos += 3;
        while (this.#peek() !== undefined && /\w/.test(this.#peek()!)) this.#pos++;
        if (this.#peek() !== ">") throw UNSUPPORTED;
        this.#pos++;
      } else throw UNSUPPORTED; // flags, lookaround, other named-group spellings
    }
    const alts = this.#alts();
    if (this.#peek() !== ")") throw UNSUPPORTED;
    this.#pos++;
    // (a|b|[0-9]) is one character set, so it may repeat like one.
    if (
      alts.every((seq) =>
        seq.length === 1 && seq[0]!.kind === "set" && seq[0]!.min === 1 && seq[0]!.max === 1
      )
    ) {
      return setNode(alts.reduce<CharSet>((set, seq) => union(set, setOf(seq[0]!)), EMPTY));
    }
    return { kind: "group", alts, min: 1, max: 1, lazy: false };
  }

  /** Parses the part after `[`. RE2: a negated class matches `\n` too. */
  #class(): CharSet {
    let negate = false;
    if (this.#peek() === "^") {
      negate = true;
      this.#pos++;
    }
    let set: CharSet = EMPTY;
    let first = true;
    for (;;) {
      const c = this.#peek();
      if (c === undefined) throw UNSUPPORTED;
      if (c === "]" && !first) break;
      first = false;
      const lo = this.#classItem();
      if (this.#peek() === "-" && this.#peek(1) !== "]" && this.#peek(1) !== undefined) {
        this.#pos++;
        const hi = this.#classItem();
        if (typeof lo !== "number" || typeof hi !== "number" || hi < lo) throw UNSUPPORTED;
        set = union(set, [lo, hi]);
      } else set = union(set, typeof lo === "number" ? single(lo) : lo);
    }
    this.#pos++;
    return negate ? complement(set) : set;
  }

  /** One class member: a code point, or a set for `\d` and the like. */
  #classItem(): number | CharSet {
    const c = this.#peek()!;
    this.#pos++;
    if (c === "[") throw UNSUPPORTED; // [:alpha:] and friends
    if (c !== "\\") return c.codePointAt(0)!;
    const node = this.#escape(true);
    if (node.kind !== "set") throw UNSUPPORTED;
    return node.set.length === 2 && node.set[0] === node.set[1] ? node.set[0]! : node.set;
  }

  #escape(inClass: boolean): Node {
    const c = this.#peek();
    if (c === undefined) throw UNSUPPORTED;
    this.#pos++;
    const set = CLASS_ESCAPES[c];
    if (set) return setNode(set);
    const code = CHAR_ESCAPES[c];
    if (code !== undefined) return setNode(single(code));
    if (!inClass) {
      if (c === "b" || c === "B") return { kind: "assert", what: `\\${c}` };
      if (c === "A") return { kind: "assert", what: "^" };
      if (c === "z") return { kind: "assert", what: "$" };
    }
    if (c === "x") return setNode(single(this.#hex()));
    // RE2 takes any escaped ASCII punctuation as itself.
    if (/^[\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]$/.test(c)) return setNode(single(c.charCodeAt(0)));
    throw UNSUPPORTED; // octal, \p, \Q…\E, \C
  }

  #hex(): number {
    let digits = "";
    if (this.#peek() === "{") {
      this.#pos++;
      while (this.#peek() !== undefined && this.#peek() !== "}") {
        digits += this.#peek(), this.#pos++;
      }
      this.#pos++;
    } else {
      digits = (this.#peek() ?? "") + (this.#peek(1) ?? "");
      this.#pos += 2;
    }
    if (!/^[0-9A-Fa-f]{1,6}$/.test(digits)) throw UNSUPPORTED;
    const cp = parseInt(digits, 16);
    if (cp > MAX_CP) throw UNSUPPORTED;
    return cp;
  }

  #quantified(node: Node): Node {
    let min: number;
    let max: number;
    const c = this.#peek();
    if (c === "*") [min, max] = [0, Infinity];
    else if (c === "+") [min, max] = [1, Infinity];
    else if (c === "?") [min, max] = [0, 1];
    else if (c === "{") {
      const rest = String.fromCodePoint(...this.#cps.slice(this.#pos, this.#pos + 16));
      const m = /^\{(\d{1,4})(,(\d{0,4}))?\}/.exec(rest);
      if (!m) throw UNSUPPORTED; // RE2 reads a bad {…} as literal text; not modelled
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
      this.#pos += m[0].length - 1;
    } else return node;
    this.#pos++;
    let lazy = false;
    if (this.#peek() === "?") {
      lazy = true;
      this.#pos++;
    }
    if (node.kind === "assert" || max < min || /^[*+?{]$/.test(this.#peek() ?? "")) {
      throw UNSUPPORTED;
    }
    if (node.min !== 1 || node.max !== 1) throw UNSUPPORTED;
    return { ...node, min, max, lazy };
  }
}

function setNode(set: CharSet): Node {
  return { kind: "set", set, min: 1, max: 1, lazy: false };
}

function setOf(node: Node): CharSet {
  return node.kind === "set" ? node.set : EMPTY;
}

// ---------------------------------------------------------------------------------------------
// The analysis: walk right to left, carrying what can follow each node and the cost degree of
// running everything after it once.

interface Cont {
  /** Characters the rest of the pattern can consume first (empty: it consumes nothing). */
  first: CharSet;
  /** Running the rest once costs O(n^degree) steps. */
  degree: number;
}

interface Budget {
  ambiguity: number;
  steps: number;
}

function walkAlts(alts: readonly Seq[], next: Cont, budget: Budget): Cont {
  const conts = alts.map((seq) => walkSeq(seq, next, budget));
  let overlap = false;
  for (let i = 0; i < conts.length && !overlap; i++) {
    for (let j = i + 1; j < conts.length && !overlap; j++) {
      overlap = intersects(conts[i]!.first, conts[j]!.first);
    }
  }
  if (overlap) choices(budget, conts.length);
  return {
    first: conts.reduce<CharSet>((set, c) => union(set, c.first), EMPTY),
    degree: Math.max(...conts.map((c) => c.degree)),
  };
}

function walkSeq(seq: Seq, next: Cont, budget: Budget): Cont {
  let cont = next;
  for (let i = seq.length - 1; i >= 0; i--) cont = walkNode(seq[i]!, cont, budget);
  return cont;
}

function walkNode(node: Node, next: Cont, budget: Budget): Cont {
  if (++budget.steps > MAX_STEPS) throw UNSUPPORTED;
  if (node.kind === "assert") return node.what === "$" ? { ...next, first: EMPTY } : next;
  if (node.kind === "group") {
    // Star height 1: a group repeats a bounded number of times, unrolled here.
    if (node.max > MAX_GROUP_REPEAT) throw UNSUPPORTED;
    let cont = next;
    for (let k = node.min; k < node.max; k++) {
      // One optional occurrence: enter (the group, then the optional ones after it) or skip.
      const enter = walkAlts(node.alts, cont, budget);
      if (isNullable(node.alts) || intersects(enter.first, next.first)) choices(budget, 2);
      cont = { first: union(enter.first, next.first), degree: Math.max(enter.degree, next.degree) };
    }
    for (let k = 0; k < node.min; k++) cont = walkAlts(node.alts, cont, budget);
    return cont;
  }
  const { set, min, max } = node;
  if (min === max) return min === 0 ? next : { first: set, degree: next.degree };
  const first = min > 0 ? set : union(set, next.first);
  const decided = !intersects(set, next.first);
  if (max - min > MAX_BOUNDED_CHOICES) {
    // Unbounded: the input decides each iteration, or the rest runs after every one.
    return { first, degree: decided ? Math.max(1, next.degree) : next.degree + 1 };
  }
  if (!decided) choices(budget, max - min + 1);
  return { first, degree: next.degree };
}

function choices(budget: Budget, fanOut: number): void {
  budget.ambiguity *= fanOut;
  if (budget.ambiguity > MAX_AMBIGUITY) throw UNSUPPORTED;
}

function isNullable(alts: readonly Seq[]): boolean {
  return alts.some((seq) =>
    seq.every((node) => node.kind === "assert" || node.min === 0 || isNullable(groupAlts(node)))
  );
}

function groupAlts(node: Node): readonly Seq[] {
  return node.kind === "group" ? node.alts : [];
}

/** Most characters one attempt can consume (Infinity with an unbounded repeat). */
function maxLength(alts: readonly Seq[]): number {
  return Math.max(
    0,
    ...alts.map((seq) =>
      seq.reduce(
        (sum, node) =>
          sum +
          (node.kind === "assert"
            ? 0
            : node.kind === "set"
            ? node.max
            : node.max * maxLength(node.alts)),
        0,
      )
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Printing for V8 (u flag): every set as explicit code points, every group non-capturing.

function printSeq(seq: Seq): string {
  return seq.map(printNode).join("");
}

function printNode(node: Node): string {
  if (node.kind === "assert") return node.what;
  const body = node.kind === "set"
    ? printSet(node.set)
    : `(?:${node.alts.map(printSeq).join("|")})`;
  const { min, max } = node;
  if (min === 1 && max === 1) return body;
  const q = min === 0 && max === Infinity
    ? "*"
    : min === 1 && max === Infinity
    ? "+"
    : min === 0 && max === 1
    ? "?"
    : min === max
    ? `{${min}}`
    : `{${min},${max === Infinity ? "" : max}}`;
  return body + q + (node.lazy ? "?" : "");
}

function printSet(set: CharSet): string {
  if (set.length === 2 && set[0] === set[1]) return printChar(set[0]!);
  // Print the smaller side: [^?] rather than every range around it.
  const negated = set[0] === 0 && set[set.length - 1] === MAX_CP;
  const ranges = negated ? complement(set) : set;
  let out = "";
  for (let i = 0; i < ranges.length; i += 2) {
    const lo = ranges[i]!;
    const hi = ranges[i + 1]!;
    out += lo === hi ? printChar(lo) : `${printChar(lo)}-${printChar(hi)}`;
  }
  return negated ? `[^${out}]` : `[${out}]`;
}

function printChar(cp: number): string {
  return (cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a)
    ? String.fromCodePoint(cp)
    : `\\u{${cp.toString(16)}}`;
}
