import type { BanCommand } from "../lm/command.ts";
import type { Expectation } from "./fixture.ts";

/** A received command with `at`: seconds after the fixture's start, as fixtures state it. */
export type ActualCommand = BanCommand & { at: number };

/** Result of {@linkcode compareCommands}: ok, or the lines of a readable diff. */
export interface Comparison {
  ok: boolean;
  diff: string[];
}

// Field order of the rendered commands: what a reader scans first.
const ORDER = [
  "at",
  "method",
  "ip_addr",
  "rule_name",
  "comment",
  "timeout",
  "domain_id",
  "geo",
  "worker",
  "timestamp",
  "broadcast",
  "hoplite",
];

/** The fields of a command that `--update` writes as the expectation. */
export const UPDATE_KEYS = ["at", "method", "ip_addr", "rule_name", "comment", "timeout"] as const;

function same(key: string, expected: unknown, actual: unknown): boolean {
  if (typeof expected === "number" && typeof actual === "number") {
    // Times are compared to the millisecond the wire carries.
    return key === "at" || key === "timestamp"
      ? Math.abs(expected - actual) < 0.0005
      : expected === actual;
  }
  if (typeof expected === "string" && typeof actual === "number") {
    return expected === String(actual);
  }
  return expected === actual;
}

/** `{at: 12.5, method: add, ip_addr: 1.2.3.4, …}` with the given keys in reading order. */
export function renderCommand(cmd: Record<string, unknown>, keys?: readonly string[]): string {
  const wanted = keys ?? Object.keys(cmd);
  const ordered = [
    ...ORDER.filter((k) => wanted.includes(k)),
    ...wanted.filter((k) => !ORDER.includes(k)),
  ];
  const parts = ordered
    .filter((k) => cmd[k] !== undefined)
    .map((k) => `${k}: ${typeof cmd[k] === "string" ? JSON.stringify(cmd[k]) : String(cmd[k])}`);
  return `{${parts.join(", ")}}`;
}

function matches(expected: Record<string, unknown>, actual: ActualCommand): boolean {
  const a = actual as unknown as Record<string, unknown>;
  return Object.entries(expected).every(([k, v]) => same(k, v, a[k]));
}

/**
 * Compares received commands with a fixture's expectation: the expected list in order, each
 * entry matched on the keys it states, no command left over; and no command at all for an IP
 * in `none_for`. The diff shows matching lines as context, `-` expected and `+` actual (shown
 * with the keys the expectation states, so the difference stands out), leftovers at the end.
 */
export function compareCommands(expect: Expectation, actual: readonly ActualCommand[]): Comparison {
  const diff: string[] = [];
  let ok = true;
  if (expect.commands) {
    const expected = expect.commands;
    const n = Math.max(expected.length, actual.length);
    for (let i = 0; i < n; i++) {
      const e = expected[i];
      const a = actual[i];
      if (e && a && matches(e, a)) {
        diff.push(`    [${i}] ${renderCommand(e)}`);
        continue;
      }
      ok = false;
      if (e) diff.push(`  - [${i}] ${renderCommand(e)}`);
      if (a) {
        const keys = e ? Object.keys(e) : UPDATE_KEYS;
        const shown = renderCommand(a as unknown as Record<string, unknown>, keys);
        diff.push(`  + [${i}] ${shown}${e ? "" : "   (unexpected)"}`);
        if (e) {
          const wrong = Object.keys(e).filter((k) =>
            !same(k, e[k], (a as unknown as Record<string, unknown>)[k])
          );
          diff.push(`          differs in: ${wrong.join(", ")}`);
        }
      } else diff.push(`          (missing: no command [${i}] received)`);
    }
  }
  if (expect.noneSet) {
    for (const [i, a] of actual.entries()) {
      if (expect.noneSet.has(a.ip_addr)) {
        ok = false;
        diff.push(
          `  ! [${i}] ${renderCommand(a as unknown as Record<string, unknown>, UPDATE_KEYS)}` +
            `   (none_for lists ${a.ip_addr})`,
        );
      }
    }
  }
  return { ok, diff: ok ? [] : diff };
}
