import type { ProjectionStatus } from "../sensor/lm/mod.ts";
import {
  API_HELP,
  API_OPTIONS,
  ApiCallError,
  type ApiClient,
  clientFromOptions,
  type CommandIo,
  processIo,
} from "./_api_client.ts";
import { duration, isoTime, plural, printable, table, wrap } from "./_table.ts";
import { parseCommandLine } from "./parse_command_line.ts";

const HELP = `Usage: qts status [--domain <id>] [--interval <seconds>] [options]

What a running sensor is doing, over its REST API: version and uptime (GET /healthz), ingest
counters (records, events, drops by reason, commands, outbound subscribers, active bans: GET
/metrics), and per domain the filter chain, each projection's state, mode and window counters
and its bans (GET /stats/<id>), and the events by name and the filters' own counters.

  -d, --domain <id>      one domain (default: every domain the sensor knows)
  -i, --interval <s>     rates over this many seconds: /metrics is read twice, <s> apart
                         (default: averages since the sensor started)
${API_HELP}
  -h, --help             this text

--json prints {api, healthz, domains, stats: {<id>: GET /stats/<id>'s data}, metrics: [{name,
labels, value}], errors}, with --interval also interval_s and metrics_before.

Exit 0 on success, 1 when the API cannot be reached or refuses (one line on stderr), 2 on a
usage error.
`;

/** One sample of the Prometheus text exposition. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** What `GET /stats/<domain>` answers (`http` only from `qts serve`). */
interface DomainStatus {
  domain_id: number;
  filters: string[];
  projections: Record<string, ProjectionStatus>;
  bans: number;
  [more: string]: unknown;
}

/** Everything `qts status` read, as `--json` prints it. */
interface StatusDocument {
  api: string;
  healthz: { status: string; version: string; uptime_ms: number };
  domains: number[];
  stats: Record<string, DomainStatus>;
  metrics: MetricSample[];
  /** With --interval: the interval (s) and the /metrics sample taken that long before. */
  interval_s?: number;
  metrics_before?: MetricSample[];
  /** Domains whose /stats failed, with the reason. */
  errors: { domain_id: number; error: string }[];
}

/** `qts status`: a running sensor's health, ingest counters and per-domain projections. */
export async function statusCommand(
  args: string[],
  io: CommandIo = processIo(),
): Promise<number> {
  const parsed = parseCommandLine("status", HELP, args, {
    ...API_OPTIONS,
    domain: { type: "string", short: "d" },
    interval: { type: "string", short: "i" },
  });
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  const usage = (problem: string) => {
    io.err(`qts status: ${problem}\n\n${HELP}`);
    return 2;
  };
  if (values.domain !== undefined && !/^\d{1,10}$/.test(values.domain)) {
    return usage(`--domain "${values.domain}" is not a domain id (a decimal integer)`);
  }
  let interval: number | undefined;
  if (values.interval !== undefined) {
    interval = Number(values.interval);
    if (values.interval.trim() === "" || !Number.isFinite(interval) || interval <= 0) {
      return usage(`--interval "${values.interval}" is not a number of seconds (> 0)`);
    }
  }
  const made = await clientFromOptions(values, io);
  if ("problem" in made) return usage(made.problem);
  try {
    const doc = await readStatus(made.client, io, {
      ...(values.domain !== undefined ? { domain: Number(values.domain) } : {}),
      ...(interval !== undefined ? { interval } : {}),
    });
    io.out(
      values.json ? JSON.stringify(doc, null, 2) : formatStatus(doc, { width: io.columns }),
    );
    return 0;
  } catch (error) {
    if (!(error instanceof ApiCallError)) throw error;
    io.err(`qts status: ${printable(error.message)}`);
    return 1;
  }
}

async function readStatus(
  client: ApiClient,
  io: CommandIo,
  options: { domain?: number; interval?: number },
): Promise<StatusDocument> {
  // With an interval: a first sample, then everything else after it, so the state shown is the
  // latest and the rates are the difference.
  let before: MetricSample[] | undefined;
  if (options.interval !== undefined) {
    before = parsePrometheus(await client.text("/metrics"));
    await io.sleep(options.interval * 1000);
  }
  const healthz = await client.envelope("GET", "/healthz") as unknown as StatusDocument["healthz"];
  const metrics = parsePrometheus(await client.text("/metrics"));
  let domains: number[];
  if (options.domain !== undefined) {
    domains = [options.domain];
  } else {
    // Configured domains, domains holding bans, and domains records went to (force_domains).
    const known = new Set(await client.data<number[]>("GET", "/filters"));
    for (const ban of await client.data<{ domain_id: number }[]>("GET", "/bans")) {
      known.add(ban.domain_id);
    }
    for (const s of metrics) {
      if (s.name === "qts_records_total" && /^\d+$/.test(s.labels.domain ?? "")) {
        known.add(Number(s.labels.domain));
      }
    }
    domains = [...known].sort((a, b) => a - b);
  }
  const stats: Record<string, DomainStatus> = {};
  const errors: StatusDocument["errors"] = [];
  for (const id of domains) {
    try {
      stats[id] = await client.data<DomainStatus>("GET", `/stats/${id}`);
    } catch (error) {
      // One domain gone between the calls (removed, or --domain unknown) is a line, not a stop.
      if (!(error instanceof ApiCallError) || error.status !== 400) throw error;
      if (options.domain !== undefined) throw error;
      errors.push({ domain_id: id, error: error.message });
    }
  }
  const doc: StatusDocument = {
    api: client.base,
    healthz,
    domains,
    stats,
    metrics,
    errors,
  };
  if (options.interval !== undefined && before !== undefined) {
    doc.interval_s = options.interval;
    doc.metrics_before = before;
  }
  return doc;
}

/**
 * The samples of a Prometheus text exposition (format 0.0.4): `name{label="value",…} value`;
 * comments, timestamps and lines that do not parse are skipped.
 */
export function parsePrometheus(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    if (name === undefined) continue;
    let i = name.length;
    const labels: Record<string, string> = {};
    if (line[i] === "{") {
      i++;
      let ok = false;
      while (i < line.length) {
        while (line[i] === " " || line[i] === ",") i++;
        if (line[i] === "}") {
          i++;
          ok = true;
          break;
        }
        const key = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i))?.[0];
        if (key === undefined || line[i + key.length] !== "=" || line[i + key.length + 1] !== '"') {
          break;
        }
        i += key.length + 2;
        let value = "";
        while (i < line.length && line[i] !== '"') {
          if (line[i] === "\\" && i + 1 < line.length) {
            const next = line[i + 1]!;
            value += next === "n" ? "\n" : next;
            i += 2;
          } else {
            value += line[i++];
          }
        }
        i++; // closing quote
        labels[key] = value;
      }
      if (!ok) continue;
    }
    const value = Number(line.slice(i).trim().split(/\s+/)[0]);
    if (line.slice(i).trim() === "" || Number.isNaN(value)) continue;
    out.push({ name, labels, value });
  }
  return out;
}

/** Options of {@linkcode formatStatus}. */
export interface FormatStatusOptions {
  /** Widest line. */
  width: number;
}

/**
 * The status document as text for people: a header with version and uptime, the ingest
 * counters with their rates, and per domain the chain, the projections table, the events by
 * name and the filters' own counters.
 */
export function formatStatus(doc: StatusDocument, options: FormatStatusOptions): string {
  const { width } = options;
  const uptimeS = doc.healthz.uptime_ms / 1000;
  const before = doc.metrics_before;
  const current = doc.metrics;
  // A series' rate: over the interval when sampled twice, else the average since start.
  const rate = (name: string, match: (labels: Record<string, string>) => boolean): string => {
    const now = sum(current, name, match);
    if (before !== undefined && doc.interval_s !== undefined) {
      return perSecond(now - sum(before, name, match), doc.interval_s);
    }
    return perSecond(now, uptimeS);
  };
  const total = (name: string, match: (labels: Record<string, string>) => boolean = () => true) =>
    sum(current, name, match);
  const lines: string[] = [
    `qts ${printable(doc.healthz.version)} at ${doc.api}, up ${duration(doc.healthz.uptime_ms)}`,
    before !== undefined
      ? `rates over the last ${doc.interval_s} s`
      : "rates: averages since start (--interval <s> for the current ones)",
    "",
  ];
  const all = () => true;
  const rows: string[][] = [
    ["records", String(total("qts_records_total")), rate("qts_records_total", all)],
    ["events", String(total("qts_events_total")), rate("qts_events_total", all)],
  ];
  const drops = byLabel(current, "qts_input_dropped_total", "reason");
  rows.push([
    "dropped",
    String(total("qts_input_dropped_total")),
    rate("qts_input_dropped_total", all),
    drops.length === 0 ? "" : drops.map(([r, n]) => `${r} ${n}`).join(", "),
  ]);
  if (has(current, "qts_commands_total")) {
    const methods = byLabel(current, "qts_commands_total", "method");
    rows.push([
      "commands",
      String(total("qts_commands_total")),
      rate("qts_commands_total", all),
      methods.map(([m, n]) => `${m} ${n}`).join(", "),
    ]);
  }
  if (has(current, "qts_outbound_subscribers")) {
    rows.push([
      "subscribers",
      String(total("qts_outbound_subscribers")),
      "",
      `outbound PUB; ${total("qts_outbound_dropped_total")} commands dropped at high-water mark`,
    ]);
  }
  if (has(current, "qts_syslog_records_total")) {
    rows.push([
      "syslog",
      String(total("qts_syslog_records_total")),
      rate("qts_syslog_records_total", all),
      `records from ${total("qts_syslog_datagrams_total")} datagrams, ` +
      `${total("qts_syslog_rejected_total")} rejected`,
    ]);
  }
  const bansActive = has(current, "qts_bans_active")
    ? total("qts_bans_active")
    : Object.values(doc.stats).reduce((n, s) => n + s.bans, 0);
  rows.push(["active bans", String(bansActive), ""]);
  lines.push(...table(rows, { header: ["INGEST", "TOTAL", "RATE", ""], right: [1, 2], width }));
  lines.push(
    'listeners: the API does not list them; qts serve logs them at start ("qts serving")',
  );

  for (const id of doc.domains) {
    const s = doc.stats[id];
    const match = (labels: Record<string, string>) => labels.domain === String(id);
    lines.push("");
    if (s === undefined) {
      const error = doc.errors.find((e) => e.domain_id === id)?.error ?? "no stats";
      lines.push(`domain ${id}: ${printable(error)}`);
      continue;
    }
    lines.push(
      `domain ${id}: ${plural(sum(current, "qts_records_total", match), "record")} ` +
        `(${rate("qts_records_total", match)}), ${plural(s.bans, "active ban")}`,
    );
    lines.push(
      ...(s.filters.length === 0
        ? ["  chain: (not built yet)"]
        : wrap(s.filters, { first: "  chain: ", separator: " → ", width })),
    );
    const projections = Object.entries(s.projections);
    if (projections.length === 0) {
      lines.push("  no projections");
    } else {
      lines.push(...projectionTable(projections, width));
      lines.push("  (NOW: events/IPs of the current 30 s window; LAST: of the last complete one)");
    }
    const events = byLabel(current, "qts_filter_events_total", "event", match);
    if (events.length > 0) {
      lines.push(
        ...table(
          events.map(([event, n]) => [
            event,
            String(n),
            rate("qts_filter_events_total", (l) => match(l) && l.event === event),
          ]),
          { header: ["EVENT", "TOTAL", "RATE"], right: [1, 2], width, indent: "  " },
        ),
      );
    }
    const counters = new Map<string, string[]>();
    for (const sample of current) {
      if (sample.name !== "qts_filter_counter_total" || !match(sample.labels)) continue;
      const filter = sample.labels.filter ?? "";
      const list = counters.get(filter) ?? [];
      list.push(`${sample.labels.counter ?? ""} ${sample.value}`);
      counters.set(filter, list);
    }
    if (counters.size > 0) {
      lines.push(
        ...table([...counters].map(([filter, list]) => [filter, list.join(", ")]), {
          header: ["FILTER", "COUNTERS"],
          width,
          indent: "  ",
        }),
      );
    }
  }
  return lines.join("\n");
}

/**
 * The projections of a domain as a table; WATCHED, REFUSED and BYPASSED only when a projection
 * has a count there (or, for WATCHED, an auto projection watches).
 */
function projectionTable(projections: [string, ProjectionStatus][], width: number): string[] {
  const columns: {
    title: string;
    cell: (name: string, p: ProjectionStatus) => string;
    right?: boolean;
    show?: boolean;
  }[] = [
    { title: "PROJECTION", cell: (name) => name },
    { title: "STATE", cell: (_, p) => p.state },
    // A simulating projection decides and logs, and publishes nothing.
    { title: "MODE", cell: (_, p) => p.simulate === true ? `${p.mode}, simulated` : p.mode },
    { title: "BANS", cell: (_, p) => String(p.bans), right: true },
    { title: "NOW", cell: (_, p) => `${p.events}/${p.ips}`, right: true },
    { title: "LAST", cell: (_, p) => `${p.last_events}/${p.last_ips}`, right: true },
    {
      title: "WATCHED",
      cell: (_, p) => String(p.watched),
      right: true,
      show: projections.some(([, p]) => p.state === "auto" || p.watched > 0),
    },
    {
      title: "REFUSED",
      cell: (_, p) => String(p.refused),
      right: true,
      show: projections.some(([, p]) => p.refused > 0),
    },
    {
      title: "BYPASSED",
      cell: (_, p) => String(p.bypassed ?? 0),
      right: true,
      show: projections.some(([, p]) => (p.bypassed ?? 0) > 0),
    },
    { title: "SINCE", cell: (_, p) => isoTime(p.since) },
    { title: "RULE", cell: (_, p) => p.rule_name },
  ];
  const shown = columns.filter((c) => c.show !== false);
  return table(projections.map(([name, p]) => shown.map((c) => c.cell(name, p))), {
    header: shown.map((c) => c.title),
    right: shown.flatMap((c, i) => c.right ? [i] : []),
    width,
    indent: "  ",
  });
}

function sum(
  samples: readonly MetricSample[],
  name: string,
  match: (labels: Record<string, string>) => boolean = () => true,
): number {
  let n = 0;
  for (const s of samples) if (s.name === name && match(s.labels)) n += s.value;
  return n;
}

function has(samples: readonly MetricSample[], name: string): boolean {
  return samples.some((s) => s.name === name);
}

/** Totals of `name` by the value of `label`, largest first. */
function byLabel(
  samples: readonly MetricSample[],
  name: string,
  label: string,
  match: (labels: Record<string, string>) => boolean = () => true,
): [string, number][] {
  const totals = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== name || !match(s.labels)) continue;
    const key = s.labels[label] ?? "";
    totals.set(key, (totals.get(key) ?? 0) + s.value);
  }
  return [...totals].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

function perSecond(count: number, seconds: number): string {
  if (!(seconds > 0)) return "-";
  const r = count / seconds;
  if (r === 0) return "0/s";
  if (r >= 100) return `${Math.round(r)}/s`;
  if (r >= 1) return `${r.toFixed(1)}/s`;
  if (r >= 0.01) return `${r.toFixed(2)}/s`;
  return `${(r * 60).toFixed(2)}/min`;
}
