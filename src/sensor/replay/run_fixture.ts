import { isMap, isScalar, parseDocument, stringify } from "yaml";
import { type ActualCommand, compareCommands, UPDATE_KEYS } from "./compare_commands.ts";
import { expandRequests, type TimedRecord } from "./expand_requests.ts";
import { type Fixture, parseFixture } from "./fixture.ts";
import { pcapRequests } from "./pcap_requests.ts";
import { readAccessLog } from "./read_access_log.ts";
import { ReplaySession } from "./replay_session.ts";

/** Outcome of one fixture. */
export interface FixtureResult {
  file: string;
  ok: boolean;
  /** Records sent to the sensor. */
  records: number;
  /**
   * Chain runs on the sensor's ingest thread and the records they carried (records / runs:
   * the batch size the socket input's drains gave the chain).
   */
  chainRuns: { batches: number; records: number };
  /** Seconds of event time the fixture spans. */
  virtualSeconds: number;
  wallMs: number;
  commands: ActualCommand[];
  /** Diff lines (on failure) and sensor errors; empty when ok. */
  report: string[];
  /** True when `--update` rewrote the fixture's expectation. */
  updated: boolean;
}

/** Options of {@linkcode runFixture}. */
export interface RunFixtureOptions {
  /** Write the actual commands as the fixture's `expect.commands` instead of comparing. */
  update?: boolean;
  /** How records reach the sensor (see ReplaySessionOptions.input); default `socket`. */
  input?: "socket" | "direct";
  /** See ReplaySessionOptions.batchInput; default true. */
  batchInput?: boolean;
}

async function collect(fixture: Fixture): Promise<{ records: TimedRecord[]; bad: string[] }> {
  const bad: string[] = [];
  const parts: TimedRecord[][] = [expandRequests(fixture.requests, fixture.start)];
  for (const log of fixture.logs) {
    const items: TimedRecord[] = [];
    for await (
      const item of readAccessLog(log.file, {
        format: log.format,
        domain: log.domain,
        onBad: (n, line) =>
          bad.push(`${log.file}:${n}: not an access log line: ${line.slice(0, 80)}`),
      })
    ) items.push(item);
    parts.push(items);
  }
  for (const pcap of fixture.pcaps) {
    const result = await pcapRequests(pcap.file, pcap.domain);
    parts.push(result.records);
    bad.push(...result.problems.map((p) => `${pcap.file}: ${p}`));
  }
  // Stable merge by time: each source keeps its own order at equal times.
  const records = parts.flat().map((item, order) => ({ item, order }))
    .sort((a, b) => a.item.t - b.item.t || a.order - b.order)
    .map((x) => x.item);
  return { records, bad };
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf("\n", offset - 1) + 1;
}

/**
 * The fixture text with `expect.commands` replaced by `commands`, one flow mapping a line; the
 * rest of the file (comments, folded descriptions, hand formatting) is kept byte for byte.
 */
export function withExpectedCommands(text: string, commands: Record<string, unknown>[]): string {
  const doc = parseDocument(text);
  const expect = doc.get("expect", true);
  const pair = isMap(expect)
    ? expect.items.find((p) => isScalar(p.key) && p.key.value === "commands")
    : undefined;
  const line = (cmd: Record<string, unknown>) =>
    `- { ${Object.entries(cmd).map(([k, v]) => `${k}: ${stringify(v).trim()}`).join(", ")} }`;
  if (!pair || !isScalar(pair.key) || !pair.key.range) {
    doc.setIn(["expect", "commands"], doc.createNode(commands));
    return doc.toString();
  }
  const keyStart = pair.key.range[0];
  const indent = " ".repeat(keyStart - lineStart(text, keyStart) + 2);
  const value = pair.value as { range?: [number, number, number] } | null;
  const body = commands.length === 0
    ? " []"
    : "\n" + commands.map((cmd) => indent + line(cmd)).join("\n");
  const colon = text.indexOf(":", pair.key.range[1]);
  const from = colon + 1;
  let to = from;
  if (value?.range) {
    // A block list's range runs to the next key's line: stop after its last character.
    to = value.range[1];
    while (to > from && /\s/.test(text[to - 1]!)) to--;
  }
  return text.slice(0, from) + body + text.slice(to);
}

/**
 * Runs one fixture file: parses it (unknown keys are errors), starts a fresh sensor, sends the
 * fixture's records in time order, waits for the sensor to catch up and compares the commands.
 * With `update`, writes the actual commands into the file as the new expectation instead
 * (comments and the rest of the file are kept).
 */
export async function runFixture(
  file: string,
  options: RunFixtureOptions = {},
): Promise<FixtureResult> {
  const wall = performance.now();
  const text = await Deno.readTextFile(file);
  const fixture = parseFixture(text, file);
  const { records, bad } = await collect(fixture);
  // A log or capture fixture's `at` counts from its first record, since its times are absolute.
  const start = fixture.requests.length > 0 || records.length === 0
    ? fixture.start
    : Math.floor(records[0]!.t);
  const session = await ReplaySession.start({
    config: fixture.config,
    input: options.input,
    batchInput: options.batchInput,
  });
  let actual: ActualCommand[];
  let chainRuns = { batches: 0, records: 0 };
  try {
    for (const { domain, record } of records) await session.send(domain, record);
    const commands = await session.drain();
    chainRuns = session.chainRuns();
    actual = commands.map((cmd) => ({
      ...cmd,
      at: Math.round((cmd.timestamp - start) * 1000) / 1000,
    }));
  } finally {
    await session.close();
  }
  const errors = session.logs.filter((l) => l.level === "error")
    .map((l) => `  sensor error: ${l.msg} ${JSON.stringify(l.fields)}`);
  const report = [...bad.map((b) => `  input: ${b}`), ...errors];
  const last = records.length > 0 ? records[records.length - 1]!.t - records[0]!.t : 0;
  const result: FixtureResult = {
    file,
    ok: false,
    records: records.length,
    chainRuns,
    virtualSeconds: last,
    wallMs: 0,
    commands: actual,
    report,
    updated: false,
  };
  if (options.update) {
    const expected = actual.map((cmd) => {
      const out: Record<string, unknown> = {};
      for (const key of UPDATE_KEYS) if (cmd[key] !== undefined) out[key] = cmd[key];
      if (cmd.domain_id !== fixture.domain) out.domain_id = cmd.domain_id;
      return out;
    });
    await Deno.writeTextFile(file, withExpectedCommands(text, expected));
    result.updated = true;
    result.ok = report.length === 0;
  } else {
    const comparison = compareCommands(fixture.expect, actual);
    result.ok = comparison.ok && report.length === 0;
    result.report = [...comparison.diff, ...report];
  }
  result.wallMs = performance.now() - wall;
  return result;
}
