/**
 * Text for people at a terminal: aligned tables, times, durations, and values from the wire made
 * safe to print (sample requests carry whatever an attacker sent, escape sequences included).
 * @module
 */

/** Options of {@linkcode table}. */
export interface TableOptions {
  /** Column titles, printed first. */
  header: string[];
  /** Indexes of columns aligned to the right (numbers). */
  right?: number[];
  /** Widest line; the last column is cut to fit, with "…". Default: no limit. */
  width?: number;
  /** Put before every line. Default "". */
  indent?: string;
}

/**
 * Aligned columns two spaces apart, header first, trailing spaces trimmed. Cells are made
 * printable with {@linkcode printable}; the last column is cut so a line fits `width`.
 *
 * @example
 * ```ts
 * table([["8984", "198.51.100.9"]], { header: ["DOMAIN", "IP"] });
 * // ["DOMAIN  IP", "8984    198.51.100.9"]
 * ```
 */
export function table(rows: readonly (readonly string[])[], options: TableOptions): string[] {
  const right = new Set(options.right ?? []);
  const indent = options.indent ?? "";
  const all = [options.header, ...rows].map((row) => row.map(printable));
  const columns = Math.max(...all.map((row) => row.length));
  const widths: number[] = [];
  for (let i = 0; i < columns; i++) {
    widths.push(Math.max(...all.map((row) => [...(row[i] ?? "")].length)));
  }
  return all.map((row) => {
    let line = indent;
    for (let i = 0; i < columns; i++) {
      const cell = row[i] ?? "";
      const last = i === columns - 1;
      const pad = widths[i]! - [...cell].length;
      if (last) {
        const text = right.has(i) ? " ".repeat(pad) + cell : cell;
        const room = options.width === undefined ? Infinity : options.width - [...line].length;
        line += cut(text, Math.max(room, 8));
      } else {
        line += (right.has(i) ? " ".repeat(pad) + cell : cell + " ".repeat(pad)) + "  ";
      }
    }
    return line.trimEnd();
  });
}

// C0, DEL and C1 controls (terminal escape sequences), and the bidirectional overrides and
// line separators that make text read other than it is.
// deno-lint-ignore no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * `text` with control characters written as `\xNN` (`\uNNNN` for the bidirectional ones), so a
 * value an attacker chose (a User-Agent, a URL) cannot move the cursor or recolour the terminal.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** `text` cut to `width` characters, its end replaced by "…" when cut. */
export function cut(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  return chars.slice(0, Math.max(0, width - 1)).join("") + "…";
}

/** UTC ISO 8601 time of `ms` to the second (`2023-11-14T22:13:20Z`). */
export function isoTime(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** `1 ban`, `2 bans`. */
export function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

/** Options of {@linkcode wrap}. */
export interface WrapOptions {
  /** Starts the first line; the others start with as many spaces. */
  first: string;
  /** Between items; kept at the end of a line that breaks. */
  separator: string;
  /** Widest line. */
  width: number;
}

/**
 * `items` joined into lines of at most `width` characters (an item longer than that gets a line
 * of its own), e.g. a domain's filter chain.
 */
export function wrap(items: readonly string[], options: WrapOptions): string[] {
  const { first, separator, width } = options;
  const indent = " ".repeat([...first].length);
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const item of items) {
    const next = empty ? item : separator + item;
    if (!empty && [...line].length + [...next].length > width) {
      lines.push((line + separator).trimEnd());
      line = indent + item;
    } else {
      line += next;
    }
    empty = false;
  }
  lines.push(line.trimEnd());
  return lines;
}

/** A duration for people: `350 ms`, `42 s`, `42 min`, `1 h 5 min`, `2 d 3 h`. */
export function duration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(abs)} ms`;
  const s = Math.floor(abs / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d} d` : `${d} d ${h % 24} h`;
}

/** `at` relative to `now`: `in 42 min`, `3 h 5 min ago`, `now`. */
export function relativeTime(at: number, now: number): string {
  const delta = at - now;
  if (Math.abs(delta) < 1000) return "now";
  return delta > 0 ? `in ${duration(delta)}` : `${duration(delta)} ago`;
}
