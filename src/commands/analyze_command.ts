import {
  analyzeCapture,
  type AnalyzeProgress,
  type AnalyzeSummary,
} from "../analyzer/analyze/analyze_capture.ts";
import {
  arffHeader,
  arffRow,
  seedCsvHeader,
  seedCsvRow,
} from "../analyzer/analyze/feature_table.ts";
import { flowRecord } from "../analyzer/analyze/flow_record.ts";
import { flowFeatures } from "../analyzer/flows/flow_features.ts";
import { TextSink } from "../analyzer/analyze/text_sink.ts";
import { type FlowLabelInfo, labelFlows } from "../analyzer/classify/label_flows.ts";
import { builtinLabelConfig } from "../analyzer/classify/signatures/label_config.ts";
import { parseCommandLine } from "./parse_command_line.ts";

const HELP = `Usage: qts analyze [options] <capture…>      ("-" reads a capture from stdin)

Reads pcap/pcapng captures, builds bidirectional flows and writes their time-related features
(the TrActor table; definitions from the ISCX VPN-nonVPN 2016 dataset).

Output (any combination; "-" = stdout; with none given, CSV goes to stdout):
  --csv FILE              the seed's table: 23 feature columns + label, the seed's conventions
  --arff FILE             ISCX attribute names and conventions (mergeable with the ISCX files)
  --json FILE             flow list: 5-tuple, times, counts, features (null = undefined), label,
                          labelSource, confidence, session, protocol/domain found by signatures,
                          the classifier's guess and why it said "unknown" (unknownReason)
  --format csv|arff|json  with --output FILE (default stdout): same as the options above

Labels (default: payload signatures, else the time-feature classifier's class, or "unknown"
when its calibrated confidence is under 0.5, the flow's features lie far outside its training
data, or the protocol/port is a service its classes never had, e.g. syslog or DNS):
  --label NAME            label every flow (a one-application capture becomes training data);
                          the JSON still shows what signatures found ("detected")
  --no-classify           signatures and sessions only: flows they cannot name stay unlabelled
  --no-labels             no labeling at all (fastest; label column empty unless --label)
  --session-gap SECONDS   flows of one client to one service closer than this share a session
                          (default 60); FTP data connections join their control connection
  --payload-bytes N       first payload bytes per flow direction the signatures read (default
                          1024); an open flow holds at most 2×N bytes of payload

Flows:
  --flow-timeout SECONDS  cut a flow this long after its first packet (default 120)
  --closed-linger SECONDS a TCP flow closed by FIN/RST goes out after this quiet time (default 10);
                          until then residual packets stay in it (a new SYN starts a new flow)
  --active-threshold US   a flow gap above this many µs ends an active period (default 1000000)
  --dup-window US         identical packets closer than this are duplicates (default 1000, 0 = off)

Other:
  --quiet                 no progress line and no summary on stderr
  -h, --help              this text

Exit status: 0 ok, 1 a capture was unreadable, truncated or corrupt (flows before the damage
are still written), 2 bad command line.
`;

/** Files bigger than this get a progress line on stderr. */
const PROGRESS_MIN_BYTES = 32 * 1024 * 1024;

function positive(
  name: string,
  raw: string | undefined,
  fallback: number,
  allowZero = false,
): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    throw new RangeError(
      `Invalid --${name} "${raw}": expected a ${allowZero ? "non-negative" : "positive"} number`,
    );
  }
  return v;
}

function count(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

function summaryLine(path: string, s: AnalyzeSummary): string {
  const reasons = Object.entries(s.skippedByReason).map(([k, v]) => `${k} ${v}`).join(", ");
  return `${path}: ${s.format}, ${s.packets} packets, ${s.flows} flows, skipped ${s.skipped}` +
    (reasons ? ` (${reasons})` : "") +
    `, fragments ${s.fragments}, out-of-order ${s.outOfOrder + s.captureOutOfOrder}` +
    ` (in flows ${s.outOfOrder}, in capture ${s.captureOutOfOrder}), duplicates ${s.duplicates}`;
}

/** The labeler's findings as JSON fields (after `label`). */
function labelFields(flow: { annotations: Record<string, unknown> | undefined }) {
  const info = flow.annotations?.labels as FlowLabelInfo | undefined;
  if (info === undefined) return {};
  return {
    labelSource: info.source,
    confidence: Number(info.confidence.toFixed(4)),
    session: info.session,
    ...(info.group !== undefined ? { group: info.group } : {}),
    ...(info.source === "given"
      ? { detected: info.detected, detectedSource: info.detectedSource }
      : {}),
    ...(info.protocol !== undefined ? { appProtocol: info.protocol } : {}),
    ...(info.domain !== undefined ? { domain: info.domain } : {}),
    ...(info.userAgent !== undefined ? { userAgent: info.userAgent } : {}),
    ...(info.guess !== undefined ? { guess: info.guess } : {}),
    ...(info.unknownReason !== undefined ? { unknownReason: info.unknownReason } : {}),
  };
}

/**
 * `qts analyze`: parses its own arguments and returns the exit code. Writes tables as flows
 * finish, so memory stays bounded by the open flows, not the capture size.
 */
export async function analyzeCommand(args: string[]): Promise<number> {
  const parsed = parseCommandLine("analyze", HELP, args, {
    csv: { type: "string" },
    arff: { type: "string" },
    json: { type: "string" },
    format: { type: "string" },
    output: { type: "string", short: "o" },
    label: { type: "string" },
    "no-classify": { type: "boolean" },
    "no-labels": { type: "boolean" },
    "session-gap": { type: "string" },
    "payload-bytes": { type: "string" },
    "flow-timeout": { type: "string" },
    "active-threshold": { type: "string" },
    "closed-linger": { type: "string" },
    "dup-window": { type: "string" },
    quiet: { type: "boolean", short: "q" },
  }, { positionals: true });
  if (typeof parsed === "number") return parsed;
  const v = parsed.values;
  if (parsed.positionals.length === 0) {
    console.error(`qts analyze: no capture given\n\n${HELP}`);
    return 2;
  }
  let timeout: number, threshold: number, dupWindow: number, linger: number, gap: number;
  let payloadBytes: number;
  try {
    gap = positive("session-gap", v["session-gap"], 60, true);
    payloadBytes = positive("payload-bytes", v["payload-bytes"], 1024);
    if (!Number.isInteger(payloadBytes) || payloadBytes > 65536) {
      throw new RangeError(
        `Invalid --payload-bytes "${v["payload-bytes"]}": expected an integer from 1 to 65536`,
      );
    }
    timeout = positive("flow-timeout", v["flow-timeout"], 120);
    threshold = positive("active-threshold", v["active-threshold"], 1_000_000, true);
    dupWindow = positive("dup-window", v["dup-window"], 1000, true);
    linger = positive("closed-linger", v["closed-linger"], 10);
  } catch (error) {
    console.error(`qts analyze: ${(error as Error).message}`);
    return 2;
  }
  const targets: { csv?: string; arff?: string; json?: string } = {};
  if (v.csv !== undefined) targets.csv = v.csv;
  if (v.arff !== undefined) targets.arff = v.arff;
  if (v.json !== undefined) targets.json = v.json;
  if (v.format !== undefined) {
    if (v.format !== "csv" && v.format !== "arff" && v.format !== "json") {
      console.error(`qts analyze: invalid --format "${v.format}": expected csv, arff or json`);
      return 2;
    }
    targets[v.format] = v.output ?? "-";
  } else if (v.output !== undefined) {
    console.error("qts analyze: --output needs --format");
    return 2;
  }
  if (Object.keys(targets).length === 0) targets.csv = "-";
  const label = v.label ?? "";
  const quiet = v.quiet === true;

  const sinks: TextSink[] = [];
  let csv: TextSink | undefined;
  let arff: TextSink | undefined;
  let json: TextSink | undefined;
  try {
    if (targets.csv !== undefined) sinks.push(csv = new TextSink(targets.csv));
    if (targets.arff !== undefined) sinks.push(arff = new TextSink(targets.arff));
    if (targets.json !== undefined) sinks.push(json = new TextSink(targets.json));
  } catch (error) {
    console.error(`qts analyze: cannot open output: ${(error as Error).message}`);
    for (const s of sinks) s.close();
    return 2;
  }
  csv?.write(seedCsvHeader());
  const labeling = v["no-labels"] !== true;
  // Without --label the ARFF class attribute must declare every label the labeler can give.
  arff?.write(
    arffHeader(label !== "" ? [label] : labeling ? builtinLabelConfig().allLabels() : []),
  );
  json?.write("[");
  let firstJson = true;
  let exit = 0;
  const tty = Deno.stderr.isTerminal();
  const encoder = new TextEncoder();
  for (const path of parsed.positionals) {
    let lastReport = Date.now();
    let progressShown = false;
    const onProgress = quiet ? undefined : (p: AnalyzeProgress) => {
      if (p.totalBytes === undefined || p.totalBytes < PROGRESS_MIN_BYTES) return;
      const now = Date.now();
      if (now - lastReport < (tty ? 500 : 2000)) return;
      lastReport = now;
      progressShown = true;
      const pct = ((100 * p.bytesRead) / p.totalBytes).toFixed(1);
      const line = `${path}: ${pct}% ${count(p.packets)} packets, ${count(p.flows)} flows`;
      Deno.stderr.writeSync(encoder.encode(tty ? `\r${line}\x1b[K` : `${line}\n`));
    };
    let summary: AnalyzeSummary;
    // One labeler per capture: sessions and FTP expectations do not cross files.
    const labeler = labeling
      ? labelFlows({
        classify: v["no-classify"] !== true,
        flowTimeoutSeconds: timeout,
        sessionGapSeconds: gap,
        payloadBytes,
      })
      : undefined;
    try {
      summary = await analyzeCapture(path, {
        flowTimeoutSeconds: timeout,
        activityThresholdUs: threshold,
        duplicateWindowUs: dupWindow,
        closedLingerUs: linger * 1e6,
        label,
        ...(labeler ? { labeler } : {}),
        ...(onProgress ? { onProgress } : {}),
      }, (flow) => {
        const features = flowFeatures(flow);
        csv?.write(seedCsvRow(features, flow.label));
        arff?.write(arffRow(features, flow.label));
        if (json) {
          const record = { ...flowRecord(flow, path), ...labelFields(flow) };
          json.write(`${firstJson ? "\n" : ",\n"}${JSON.stringify(record)}`);
          firstJson = false;
        }
      });
    } catch (error) {
      console.error(`qts analyze: cannot read ${path}: ${(error as Error).message}`);
      exit = 1;
      continue;
    }
    if (progressShown && tty) Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
    if (!quiet) console.error(summaryLine(path, summary));
    if (summary.error) {
      console.error(`qts analyze: ${path}: ${summary.error.message}`);
      exit = 1;
    }
  }
  json?.write(firstJson ? "]\n" : "\n]\n");
  for (const s of sinks) s.close();
  return exit;
}
