import { formatAddress } from "../../shared/net/ip.ts";
import type { Flow, FlowDirection } from "../flows/flow.ts";
import { type FlowFeatures, flowFeatures } from "../flows/flow_features.ts";
import type { PayloadInspector } from "../flows/flow_table.ts";
import { featureNames } from "./model/feature_names.ts";
import { recognizeFlow, recognizeFlows } from "./model/recognize_flow.ts";
import type { GuardedClass, UnknownReason } from "./model/unknown_guard.ts";
import { FtpControl } from "./sessions/ftp_control.ts";
import { HttpExchanges, type HttpSummary } from "./sessions/http_exchanges.ts";
import type { FtpDataEndpoint } from "./sessions/ftp_data_endpoint.ts";
import { LruCache } from "../../shared/cache/lru_cache.ts";
import { SessionBuilder } from "./sessions/session_builder.ts";
import { isDhtMessage } from "./signatures/bittorrent_signature.ts";
import { parseDnsMessage } from "./signatures/dns_signature.ts";
import { parseHttpRequest } from "./signatures/http_signature.ts";
import { isGreeting220 } from "./signatures/ftp_signature.ts";
import { builtinLabelConfig, type LabelConfig } from "./signatures/label_config.ts";
import { matchSignatures } from "./signatures/match_signatures.ts";
import { payloadReady } from "./signatures/payload_ready.ts";
import type { SignatureMatch, SignatureProtocol } from "./signatures/signature_match.ts";

/** Where a flow's label came from. */
export type LabelSource =
  | "given" // --label: the capture's application (training data)
  | "signature" // payload signature (protocol, or application by domain)
  | "session" // FTP data connection announced on its control connection; an ICMP error quoting
  //             a labelled flow
  | "dns" // destination address answered for an application's domain earlier in the capture
  | "endpoint" // destination address and port spoke BitTorrent DHT earlier (encrypted peers)
  | "classifier" // time-feature model (its class, or "unknown")
  | "none";

/** What the labeler found out about one flow (also stored as `flow.annotations.labels`). */
export interface FlowLabelInfo {
  /** Final label (as in `flow.label`). */
  label: string;
  source: LabelSource;
  /**
   * 1 for signatures and sessions; for classifier labels the calibrated probability of the
   * model's top class (also when the label is "unknown"; 0 when the model was not asked).
   */
  confidence: number;
  /** Label found by signatures/sessions/classifier, even when `--label` overrides it. */
  detected: string;
  detectedSource: Exclude<LabelSource, "given">;
  /** Session (ИВС) number within the capture, from 1. */
  session: number;
  /** Protocol a signature (or the FTP session) recognised. */
  protocol?: SignatureProtocol;
  /** Host name from HTTP Host, TLS SNI, DNS question, SOCKS5 target or an earlier DNS answer. */
  domain?: string;
  userAgent?: string;
  /** Every request and response of an HTTP/1.x connection (not only the first). */
  http?: HttpSummary;
  /** Group of the label in `config/labels.yaml`. */
  group?: string;
  /** Classifier labels: the model's top class, also when the label is "unknown". */
  guess?: string;
  /** Why the classifier said "unknown" (protocol, port, features, confidence). */
  unknownReason?: UnknownReason;
}

/** Options of {@linkcode labelFlows}. */
export interface LabelFlowsOptions {
  /**
   * Fall back to the time-feature classifier for flows no signature names (its class, or
   * "unknown" when unsure or out of its domain). Default true.
   */
  classify?: boolean;
  /** Flow timeout the capture is cut with (s); picks the classifier model. Default 120. */
  flowTimeoutSeconds?: number;
  /** Flows of one client to one service closer than this share a session (s). Default 60. */
  sessionGapSeconds?: number;
  /** Payload bytes kept per direction for the signatures. Default 1024. */
  payloadBytes?: number;
  /** Label configuration; default the embedded `config/labels.yaml`. */
  labels?: LabelConfig;
}

/** The per-capture labeling state: give `inspector` and `payloadBytes` to the flow table and
 * call `label()` (or `defer()`) on each finished flow, in the order the table emits them. */
export interface FlowLabeler {
  inspector: PayloadInspector;
  payloadBytes: number;
  sessions: SessionBuilder;
  /** Labels a finished flow now (one classifier call for a flow no signature names). */
  label(flow: Flow): FlowLabelInfo;
  /**
   * Labels a finished flow like `label()`, except that a flow needing the classifier waits for
   * `settle()`, which classifies every waiting flow in one batch. Returns whether the flow's
   * labels are final already. Nothing the labeler decides later depends on a classifier verdict,
   * so the labels are the same as `label()`'s.
   */
  defer(flow: Flow): boolean;
  /** Flows `defer()` left waiting for the classifier. */
  readonly pending: number;
  /** Classifies the waiting flows in one batch and completes their labels. */
  settle(): void;
}

/** ISCX file conventions for undefined features (as the model was trained). */
const UNDEFINED_ISCX: Record<string, number> = {
  total_fiat: 0,
  total_biat: 0,
  mean_fiat: 0,
  mean_biat: 0,
};

function iscxVector(features: FlowFeatures, out: Float64Array): Float64Array {
  featureNames.forEach((name, i) => {
    const v = features[name as keyof FlowFeatures];
    out[i] = v !== null
      ? v
      : UNDEFINED_ISCX[name] ?? (name.startsWith("min_") || name.startsWith("max_") ? -1 : 0);
  });
  return out;
}

/** Bound on the DNS answers (address → domain) and BitTorrent endpoints remembered. */
const MAX_ANSWERS = 16_384;

/** The flow an ICMP/ICMPv6 error quotes, as a 5-tuple key, or undefined (echo, or no quote). */
function quotedTuple(flow: Flow): string | undefined {
  if (flow.protocol !== 1 && flow.protocol !== 58) return undefined;
  const q = flow.firstPayload(0).length > 0 ? flow.firstPayload(0) : flow.firstPayload(1);
  let proto: number, src: string, dst: string, l4: number;
  if (flow.protocol === 1) {
    if (q.length < 28 || q[0]! >> 4 !== 4) return undefined;
    l4 = (q[0]! & 15) * 4;
    proto = q[9]!;
    src = `${q[12]}.${q[13]}.${q[14]}.${q[15]}`;
    dst = `${q[16]}.${q[17]}.${q[18]}.${q[19]}`;
  } else {
    if (q.length < 48 || q[0]! >> 4 !== 6) return undefined;
    l4 = 40;
    proto = q[6]!;
    const words = (o: number) =>
      [0, 4, 8, 12].map((i) =>
        ((q[o + i]! << 24) | (q[o + i + 1]! << 16) | (q[o + i + 2]! << 8) | q[o + i + 3]!) >>> 0
      );
    src = formatAddress(words(8), 6);
    dst = formatAddress(words(24), 6);
  }
  if ((proto !== 6 && proto !== 17) || q.length < l4 + 4) return undefined;
  const sport = (q[l4]! << 8) | q[l4 + 1]!;
  const dport = (q[l4 + 2]! << 8) | q[l4 + 3]!;
  return `${proto}|${src}|${sport}|${dst}|${dport}`;
}

interface Notes {
  ftp?: FtpControl;
  http?: HttpExchanges;
  session?: number;
}

function notes(flow: Flow): Notes {
  return (flow.annotations ??= {}) as Notes;
}

/**
 * Creates the labeler of one capture: payload signatures on the first bytes of each direction
 * (domains mapped to applications by `config/labels.yaml`), FTP control connections followed for
 * their data connections, sessions by client and service, and the time-feature classifier for
 * the rest. Memory per flow: the table's first `payloadBytes` per direction, plus one partial
 * line per direction for an FTP control connection.
 *
 * @example
 * ```ts
 * const labeler = labelFlows();
 * await analyzeCapture("app.pcap", { labeler }, (flow) => console.log(flow.label));
 * ```
 */
export function labelFlows(options: LabelFlowsOptions = {}): FlowLabeler {
  const config = options.labels ?? builtinLabelConfig();
  const classify = options.classify ?? true;
  const timeout = options.flowTimeoutSeconds ?? 120;
  const sessions = new SessionBuilder({ gapUs: (options.sessionGapSeconds ?? 60) * 1e6 });
  const answers = new LruCache<string, string>(MAX_ANSWERS);
  // BitTorrent clients take peer connections (TCP) on their DHT port (UDP): a TCP flow to an
  // address and port that spoke DHT is BitTorrent even when its handshake is encrypted (MSE).
  const peers = new LruCache<string, string>(MAX_ANSWERS);
  // Labelled UDP flows by 5-tuple, for the ICMP errors that quote them (port unreachable …; TCP
  // answers a closed port with a RST instead).
  const tuples = new LruCache<string, string>(MAX_ANSWERS);
  const width = featureNames.length;
  // Flows waiting for the classifier (defer()), with their feature rows packed for one batch.
  const waiting: Array<{ flow: Flow; info: FlowLabelInfo }> = [];
  let matrix = new Float64Array(64 * width);
  const payloadBytes = options.payloadBytes ?? 1024;

  function controlSession(flow: Flow): number {
    const n = notes(flow);
    n.session ??= sessions.serviceSession(flow);
    return n.session;
  }

  function onEndpoint(flow: Flow, control: FtpControl, e: FtpDataEndpoint): void {
    if (control.verdict === false) return;
    const session = controlSession(flow);
    const label = config.labelForProtocol("ftp");
    const server = flow.dstAddress;
    const address = e.address ?? (e.active ? flow.srcAddress : server);
    sessions.expect(address, e.port, session, label, flow.lastUs);
    // Behind NAT a PASV reply names an address the client does not use: expect the server too.
    if (!e.active && address !== server) {
      sessions.expect(server, e.port, session, label, flow.lastUs);
    }
  }

  const inspector: PayloadInspector = {
    ready(flow: Flow, _direction: FlowDirection, payload: Uint8Array): boolean {
      return payloadReady(flow.protocol, payload);
    },
    inspect(flow: Flow, direction: FlowDirection, payload: Uint8Array): void | "follow" {
      if (flow.protocol === 17) {
        if (isDhtMessage(payload)) {
          const label = config.labelForProtocol("bittorrent");
          peers.set(`${flow.srcAddress}|${flow.srcPort}`, label);
          peers.set(`${flow.dstAddress}|${flow.dstPort}`, label);
        } else if (direction === 1) {
          // DNS answers tell which domain later flows to an address belong to.
          const dns = parseDnsMessage(payload);
          if (dns?.response && dns.addresses.length > 0 && config.labelForDomain(dns.name)) {
            for (const a of dns.addresses) answers.set(a, dns.name);
          }
        }
        return;
      }
      if (flow.protocol === 6 && direction === 0 && parseHttpRequest(payload) !== undefined) {
        const http = new HttpExchanges();
        notes(flow).http = http;
        // Bytes past a full budget were dropped by the collector: the stream resynchronises.
        http.feed(0, payload, payload.length >= payloadBytes);
        const answer = flow.firstPayload(1);
        http.feed(1, answer, answer.length >= payloadBytes);
        return "follow";
      }
      if (flow.protocol !== 6 || direction !== 1 || !isGreeting220(payload)) return;
      const control: FtpControl = new FtpControl(
        flow.dstPort,
        (e) => onEndpoint(flow, control, e),
      );
      notes(flow).ftp = control;
      control.feed(0, flow.firstPayload(0));
      control.feed(1, payload);
      return "follow";
    },
    follow(flow, direction, view): void {
      const n = notes(flow);
      n.ftp?.feedPacket(direction, view);
      n.http?.feedPacket(direction, view);
    },
  };

  /** Sets a classifier verdict on a flow whose signatures, sessions and endpoints named nothing
   * (fields added in the order `label()` always gave them). */
  function applyVerdict(flow: Flow, info: FlowLabelInfo, verdict: GuardedClass): void {
    info.detected = verdict.label;
    if (info.source !== "given") {
      info.confidence = verdict.confidence;
      flow.label = info.label = verdict.label;
      const group = config.groupOf(flow.label);
      if (group !== undefined) info.group = group;
    }
    if (verdict.guess) info.guess = verdict.guess;
    if (verdict.reason !== undefined) info.unknownReason = verdict.reason;
  }

  /** Labels `flow`; with `deferred`, a flow for the classifier joins `waiting` unclassified. */
  function decide(flow: Flow, deferred: boolean): FlowLabelInfo {
    const n = notes(flow);
    let match: SignatureMatch | undefined;
    // An announced FTP data connection belongs to its control connection, whatever it carries.
    const data = n.ftp === undefined ? sessions.dataSession(flow) : undefined;
    if (data !== undefined) match = undefined;
    else if (n.ftp?.verdict === true) match = { protocol: "ftp", detail: "control" };
    else {
      match = matchSignatures({
        protocol: flow.protocol,
        fwd: flow.firstPayload(0),
        bwd: flow.firstPayload(1),
        srcPort: flow.srcPort,
        dstPort: flow.dstPort,
      });
    }
    let detected = "";
    let source: Exclude<LabelSource, "given"> = "none";
    let confidence = 0;
    let verdict: GuardedClass | undefined;
    let session: number | undefined = n.session;
    let domain = match?.domain;
    const quoted = match === undefined && data === undefined ? quotedTuple(flow) : undefined;
    const quotedFlow = quoted !== undefined ? tuples.get(quoted) : undefined;
    if (quotedFlow !== undefined) {
      const bar = quotedFlow.indexOf("|");
      session = Number(quotedFlow.slice(0, bar));
      detected = quotedFlow.slice(bar + 1);
      source = "session";
      confidence = 1;
    } else if (data !== undefined) {
      [session, detected] = data;
      source = "session";
      confidence = 1;
      match = { protocol: "ftp", detail: "data" };
    } else if (match !== undefined) {
      // A SOCKS5 target names where the tunnel goes; the flow itself is the proxy's.
      const app = domain !== undefined && match.protocol !== "socks5"
        ? config.labelForDomain(domain)
        : undefined;
      detected = app ?? config.labelForProtocol(match.protocol);
      source = "signature";
      confidence = 1;
    } else {
      const known = answers.get(flow.dstAddress);
      const app = known !== undefined ? config.labelForDomain(known) : undefined;
      const peer = flow.protocol === 6
        ? peers.get(`${flow.dstAddress}|${flow.dstPort}`)
        : undefined;
      if (peer !== undefined) {
        detected = peer;
        source = "endpoint";
        confidence = 1;
        match = { protocol: "bittorrent", detail: "endpoint" };
      } else if (app !== undefined) {
        detected = app;
        domain = known;
        source = "dns";
        confidence = 1;
      } else if (classify) {
        source = "classifier";
        const at = waiting.length * width;
        if (matrix.length < at + width) {
          const grown = new Float64Array(matrix.length * 2);
          grown.set(matrix);
          matrix = grown;
        }
        const row = iscxVector(flowFeatures(flow), matrix.subarray(at, at + width));
        if (!deferred) verdict = recognizeFlow(row, flow, { timeout });
      }
    }
    session = session === undefined
      ? sessions.serviceSession(flow)
      : n.ftp !== undefined
      ? sessions.serviceSession(flow, session)
      : session;
    const given = flow.label !== "";
    if (!given) flow.label = detected;
    const info: FlowLabelInfo = {
      label: flow.label,
      source: given ? "given" : source,
      confidence: given ? 1 : confidence,
      detected,
      detectedSource: source,
      session,
    };
    if (match !== undefined) info.protocol = match.protocol;
    if (domain !== undefined) info.domain = domain;
    if (match?.userAgent !== undefined) info.userAgent = match.userAgent;
    if (n.http !== undefined && n.http.summary.requests > 0) info.http = n.http.summary;
    const group = config.groupOf(flow.label);
    if (group !== undefined) info.group = group;
    if (source === "classifier") {
      if (verdict !== undefined) applyVerdict(flow, info, verdict);
      else waiting.push({ flow, info });
    }
    if (flow.protocol === 17 && source !== "classifier" && detected) {
      const a =
        `${flow.protocol}|${flow.srcAddress}|${flow.srcPort}|${flow.dstAddress}|${flow.dstPort}`;
      const b =
        `${flow.protocol}|${flow.dstAddress}|${flow.dstPort}|${flow.srcAddress}|${flow.srcPort}`;
      tuples.set(a, `${session}|${detected}`);
      tuples.set(b, `${session}|${detected}`);
    }
    // The follower is done with; keep only plain data on the flow.
    flow.annotations = { session, labels: info };
    return info;
  }

  function settle(): void {
    if (waiting.length === 0) return;
    const verdicts = recognizeFlows(
      matrix.subarray(0, waiting.length * width),
      waiting.map(({ flow }) => flow),
      { timeout },
    );
    waiting.forEach(({ flow, info }, i) => applyVerdict(flow, info, verdicts[i]!));
    waiting.length = 0;
  }

  return {
    inspector,
    payloadBytes,
    sessions,
    label: (flow) => decide(flow, false),
    defer(flow) {
      const before = waiting.length;
      decide(flow, true);
      return waiting.length === before;
    },
    get pending() {
      return waiting.length;
    },
    settle,
  };
}
