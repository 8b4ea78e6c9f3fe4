/**
 * TrActor's labelling adapter: payload hints (HTTP/TLS/DNS/SSH/FTP) name what they can, the
 * shipped classifier (`classifyFlow`) names the rest when confident, the transport protocol is
 * the fallback. Kept in this folder until the signature stage's glue (src/classify/label_flows.ts)
 * is available; only this file changes when it is.
 */
import { classifyFlow } from "../classify/model/classify_flow.ts";
import type { Flow, FlowDirection } from "../flows/flow.ts";
import { featureNames, flowFeatures } from "../flows/flow_features.ts";
import type { PayloadInspector } from "../flows/flow_table.ts";
import { type PayloadHints, payloadHints } from "./_payload_hints.ts";

/** The label of one flow and what the per-IP details need from it. */
export interface FlowVerdict {
  label: string;
  comment: string;
  userAgent: string | undefined;
  domainName: string | undefined;
}

/** Options of {@linkcode flowLabeler}. */
export interface FlowLabelerOptions {
  /** Flow timeout the analyzer uses (s): picks the classifier model. Default 120. */
  flowTimeoutSeconds?: number;
  /** Classifier verdicts below this probability fall back to the transport name. Default 0.5. */
  minConfidence?: number;
}

/** A payload inspector for the analyzer plus the function that labels a finished flow. */
export interface FlowLabeler {
  inspector: PayloadInspector;
  /** First payload bytes per direction the inspector needs. */
  payloadBytes: number;
  label(flow: Flow): FlowVerdict;
}

const transportNames: Record<number, string> = { 1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6" };

// ISCX writes undefined features as these values (min/max -1, totals and means 0); the model was
// trained on that convention.
const undefinedValue: Record<string, number> = {
  total_fiat: 0,
  total_biat: 0,
  mean_fiat: 0,
  mean_biat: 0,
};

function featureVector(flow: Flow): Float64Array {
  const f = flowFeatures(flow);
  const out = new Float64Array(featureNames.length);
  featureNames.forEach((name, i) => {
    const v = f[name];
    out[i] = v ?? undefinedValue[name] ??
      (name.startsWith("min_") || name.startsWith("max_") ? -1 : 0);
  });
  return out;
}

const hintsKey = "tractorHints";

function hintsOf(flow: Flow): PayloadHints | undefined {
  return flow.annotations?.[hintsKey] as PayloadHints | undefined;
}

/** Builds the labeller used by TrActor jobs. */
export function flowLabeler(options: FlowLabelerOptions = {}): FlowLabeler {
  const timeout = options.flowTimeoutSeconds ?? 120;
  const minConfidence = options.minConfidence ?? 0.5;
  const inspector: PayloadInspector = {
    inspect(flow: Flow, direction: FlowDirection, payload: Uint8Array): void {
      let hints = hintsOf(flow);
      if (hints === undefined) {
        hints = {};
        flow.annotations = { ...flow.annotations, [hintsKey]: hints };
      }
      payloadHints(flow, direction, payload, hints);
    },
  };
  return {
    inspector,
    payloadBytes: 1024,
    label(flow: Flow): FlowVerdict {
      const hints = hintsOf(flow) ?? {};
      const domainName = hints.host ?? hints.sni ?? hints.dnsName;
      const base = { userAgent: hints.userAgent, domainName };
      if (flow.label !== "") return { label: flow.label, comment: "label given", ...base };
      if (hints.app !== undefined) {
        const detail = hints.host !== undefined
          ? `Host ${hints.host}`
          : hints.sni !== undefined
          ? `SNI ${hints.sni}`
          : hints.dnsName !== undefined
          ? `query ${hints.dnsName}`
          : "payload signature";
        return { label: hints.app, comment: `${hints.app}: ${detail}`, ...base };
      }
      const transport = transportNames[flow.protocol] ?? `ip-${flow.protocol}`;
      if (flow.protocol === 6 || flow.protocol === 17) {
        const verdict = classifyFlow(featureVector(flow), { timeout });
        if (verdict.confidence >= minConfidence) {
          return {
            label: verdict.label,
            comment: `classifier: ${verdict.label} (${verdict.confidence.toFixed(2)})`,
            ...base,
          };
        }
      }
      return { label: transport, comment: transport, ...base };
    },
  };
}
