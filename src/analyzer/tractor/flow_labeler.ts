/**
 * TrActor's view of the analyzer's labelling (`labelFlows`: payload signatures, domains from
 * `config/labels.yaml`, FTP/service sessions, then the time-feature classifier): what one flow
 * row needs — its label, a human comment, and the user agent and domain name for the per-IP
 * details of `statistics/ip`.
 */
import { type FlowLabelInfo, labelFlows } from "../classify/label_flows.ts";
import type { FlowLabeler as AnalyzerLabeler } from "../classify/label_flows.ts";
import { builtinLabelConfig, labelConfig } from "../classify/signatures/label_config.ts";
import type { LabelConfig } from "../classify/signatures/label_config.ts";
import type { Flow } from "../flows/flow.ts";
import type { HttpSummary } from "../classify/sessions/http_exchanges.ts";
import type { HttpCount } from "./store_rows.ts";
import { UNKNOWN_LABEL, type UnknownReason } from "../classify/model/unknown_guard.ts";

/**
 * Where a flow's label came from, as TrActor counts it: the labeler's source, with the
 * classifier split into `model` (it named a class) and `unknown` (it would not).
 */
export type FlowSource =
  | "signature"
  | "session"
  | "dns"
  | "endpoint"
  | "model"
  | "unknown"
  | "none";

/** The label of one flow and what the per-IP details need from it. */
export interface FlowVerdict {
  label: string;
  comment: string;
  userAgent: string | undefined;
  domainName: string | undefined;
  /** HTTP requests the flow carried and their values with counts. */
  requests: number;
  http: HttpCount[];
  source: FlowSource;
  /** Why the classifier said `unknown` (source `unknown` only). */
  unknownReason?: UnknownReason;
}

/** An HTTP summary as count rows (status codes as text). */
function httpCounts(s: HttpSummary | undefined): HttpCount[] {
  if (s === undefined) return [];
  const out: HttpCount[] = [];
  const put = (kind: HttpCount["kind"], m: Map<string | number, number>) => {
    for (const [value, count] of m) out.push({ kind, value: String(value), count });
  };
  put("user_agent", s.userAgents);
  put("host", s.hosts);
  put("url", s.urls);
  put("status", s.statuses);
  return out;
}

/** Options of {@linkcode flowLabeler}. */
export interface FlowLabelerOptions {
  /** Flow timeout the analyzer uses (s): picks the classifier model. Default 120. */
  flowTimeoutSeconds?: number;
  /** Text of a labels YAML file and its name for errors; default the embedded one. */
  labels?: { text: string; source: string };
}

/** The analyzer's labeler for one capture plus the reading of its verdicts. */
export interface FlowLabeler {
  /** Give this to `analyzeCapture({ labeler })`. */
  labeler: AnalyzerLabeler;
  /** Reads the verdict of a flow the labeler has labelled. */
  verdict(flow: Flow): FlowVerdict;
}

/** The label configuration: a given labels file, else the one embedded in the binary. */
export function loadLabelConfig(labels?: { text: string; source: string }): LabelConfig {
  return labels === undefined ? builtinLabelConfig() : labelConfig(labels.text, labels.source);
}

function comment(info: FlowLabelInfo): string {
  let what: string;
  switch (info.detectedSource) {
    case "signature":
      what = `${info.protocol ?? "signature"}${info.domain !== undefined ? ` ${info.domain}` : ""}`;
      break;
    case "session":
      what = `${info.protocol ?? "ftp"} data connection`;
      break;
    case "dns":
      what = `address answered for ${info.domain ?? "a known domain"}`;
      break;
    case "classifier":
      what = info.unknownReason === undefined
        ? `classifier ${info.detected} (${info.confidence.toFixed(2)})`
        : `classifier unknown (${info.unknownReason}${
          info.guess ? `; best guess ${info.guess} ${info.confidence.toFixed(2)}` : ""
        })`;
      break;
    default:
      what = "unlabelled";
  }
  if (info.source === "given") what = `label given; detected: ${what}`;
  if (info.http !== undefined && info.http.gaps > 0) {
    what += `; HTTP ${info.http.requests} requests seen, stream lost ${info.http.gaps}×` +
      " (gaps or snap length): counts are a floor";
  }
  return `${what}; session ${info.session}`;
}

/** Builds the labelling of one capture for a TrActor job. */
export function flowLabeler(options: FlowLabelerOptions = {}): FlowLabeler {
  const labeler = labelFlows({
    flowTimeoutSeconds: options.flowTimeoutSeconds ?? 120,
    labels: loadLabelConfig(options.labels),
  });
  return {
    labeler,
    verdict(flow: Flow): FlowVerdict {
      const info = flow.annotations?.labels as FlowLabelInfo | undefined;
      if (info === undefined) {
        return {
          label: flow.label,
          comment: "",
          userAgent: undefined,
          domainName: undefined,
          requests: 0,
          http: [],
          source: "none",
        };
      }
      const label = info.label === "" ? UNKNOWN_LABEL : info.label;
      const verdict: FlowVerdict = {
        label,
        comment: comment(info),
        userAgent: info.userAgent,
        domainName: info.domain,
        requests: info.http?.requests ?? 0,
        http: httpCounts(info.http),
        source: info.detectedSource !== "classifier"
          ? info.detectedSource
          : label === UNKNOWN_LABEL
          ? "unknown"
          : "model",
      };
      if (info.unknownReason !== undefined) verdict.unknownReason = info.unknownReason;
      return verdict;
    },
  };
}
