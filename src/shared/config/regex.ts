import { RE2 } from "re2-wasm";

/** A compiled pattern; `source` is the RE2 text it came from. */
export interface Matcher {
  readonly source: string;
  test(input: string): boolean;
}

// A quantifier applied to a group that itself contains a quantifier: the one shape that makes a
// backtracking engine exponential when the pattern is otherwise RE2-valid (no backreferences or
// lookaround can pass RE2).
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*[*+}](?:[^()\\]|\\.)*\)[*+?{]/;

const LEADING_ANY = /^\.\*\??(?![*+?{])/;

const cache = new Map<string, Matcher>();

/**
 * Compiles an RE2 pattern. RE2 is the judge of validity (linear-time semantics, the seed's
 * choice); matching runs on V8's engine when the pattern has no nested quantifier, since the
 * WebAssembly RE2 costs ~2 µs a call and V8 ~60 ns, and on RE2 otherwise. Throws SyntaxError.
 */
export function compileRegex(pattern: string): Matcher {
  const known = cache.get(pattern);
  if (known) return known;
  let re2: RE2;
  try {
    re2 = new RE2(pattern, "u");
  } catch (error) {
    throw new SyntaxError(
      `Cannot compile regex ${JSON.stringify(pattern)}: ${
        (error as Error).message.replace(/^Invalid regular expression: \/.*\/u: /, "")
      }`,
      { cause: error },
    );
  }
  let matcher: Matcher = { source: pattern, test: (input) => re2.test(input) };
  if (!NESTED_QUANTIFIER.test(pattern)) {
    try {
      // `test` searches anywhere, so a leading `.*` only makes V8 backtrack through the input:
      // `.*(\.css|\.js)$` matches exactly when `(\.css|\.js)$` does, 40× faster.
      const js = new RegExp(pattern.replace(LEADING_ANY, ""), "u");
      matcher = { source: pattern, test: (input) => js.test(input) };
    } catch {
      // RE2-only syntax such as (?i) or \C: keep RE2.
    }
  }
  if (cache.size > 10_000) cache.clear();
  cache.set(pattern, matcher);
  return matcher;
}
