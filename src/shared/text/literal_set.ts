/**
 * Case-insensitive search for any of many literal substrings in one pass (Aho–Corasick, as a
 * full DFA over the characters the entries use): a URL is scanned once, one table step a
 * character, whatever the number of entries. An alternation regex of the same entries tries
 * them at each position instead (several times slower for the 300+ attack patterns).
 * @module
 */

/** Automata by their entries: domains on the same lists share one. */
const built = new Map<string, LiteralSet>();

export class LiteralSet {
  /** Character code → column (0: a character no entry has). Case-folded. */
  readonly #column: Uint16Array;
  readonly #columns: number;
  /** state * columns + column → next state; a full DFA (failure links folded in). */
  readonly #next: Uint16Array | Uint32Array;
  /** Whether reaching a state means an entry ended here (itself or by a suffix). */
  readonly #accept: Uint8Array;

  /** A set over `entries` (compared case-insensitively); built once per distinct list. */
  static of(entries: readonly string[]): LiteralSet {
    const key = entries.join("\n");
    let set = built.get(key);
    if (!set) {
      set = new LiteralSet(entries);
      built.set(key, set);
    }
    return set;
  }

  private constructor(entries: readonly string[]) {
    const words = entries.map((e) => e.toLowerCase()).filter((e) => e !== "");
    // Columns: one per distinct character of the entries; its other case maps to it too.
    const column = new Uint16Array(65536);
    let columns = 1;
    for (const word of words) {
      for (let i = 0; i < word.length; i++) {
        const code = word.charCodeAt(i);
        if (column[code] !== 0) continue;
        column[code] = columns;
        const upper = String.fromCharCode(code).toUpperCase();
        if (upper.length === 1 && column[upper.charCodeAt(0)] === 0) {
          column[upper.charCodeAt(0)] = columns;
        }
        columns++;
      }
    }
    // The trie: goto[state][column], -1 for none.
    const goto: Int32Array[] = [new Int32Array(columns).fill(-1)];
    const accept: number[] = [0];
    for (const word of words) {
      let state = 0;
      for (let i = 0; i < word.length; i++) {
        const c = column[word.charCodeAt(i)]!;
        let to = goto[state]![c]!;
        if (to < 0) {
          to = goto.length;
          goto.push(new Int32Array(columns).fill(-1));
          accept.push(0);
          goto[state]![c] = to;
        }
        state = to;
      }
      accept[state] = 1;
    }
    // Breadth first: each state's missing moves are its failure state's moves.
    const states = goto.length;
    const next = states < 65536
      ? new Uint16Array(states * columns)
      : new Uint32Array(states * columns);
    const fail = new Int32Array(states);
    const queue: number[] = [];
    for (let c = 0; c < columns; c++) {
      const to = goto[0]![c]!;
      next[c] = to < 0 ? 0 : to;
      if (to > 0) queue.push(to);
    }
    for (let head = 0; head < queue.length; head++) {
      const state = queue[head]!;
      const f = fail[state]!;
      if (accept[f]) accept[state] = 1;
      for (let c = 0; c < columns; c++) {
        const to = goto[state]![c]!;
        if (to < 0) next[state * columns + c] = next[f * columns + c]!;
        else {
          fail[to] = next[f * columns + c]!;
          next[state * columns + c] = to;
          queue.push(to);
        }
      }
    }
    this.#column = column;
    this.#columns = columns;
    this.#next = next;
    this.#accept = Uint8Array.from(accept);
  }

  /** Whether `text` contains any entry, case-insensitively. */
  test(text: string): boolean {
    const column = this.#column;
    const next = this.#next;
    const accept = this.#accept;
    const columns = this.#columns;
    let state = 0;
    for (let i = 0; i < text.length; i++) {
      state = next[state * columns + column[text.charCodeAt(i)]!]!;
      if (accept[state] === 1) return true;
    }
    return false;
  }
}
