import type { Flow } from "../flows/flow.ts";
import { type FlowFeatures, flowFeatures } from "../flows/flow_features.ts";

const protocolNames: Record<number, string> = { 1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6" };

/** Plain-data form of a finished flow, as written by `qts analyze --json`. */
export interface FlowRecord {
  id: number;
  capture?: string;
  ipVersion: number;
  protocol: string;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  /** First and last packet, µs since the epoch. */
  firstUs: number;
  lastUs: number;
  durationUs: number;
  endReason: string;
  packets: { fwd: number; bwd: number };
  /** Sum of IP total lengths (the features' bytes). */
  bytes: { fwd: number; bwd: number };
  /** Sum of frame lengths on the wire (what tshark's conversations count). */
  frameBytes: { fwd: number; bwd: number };
  payloadBytes: { fwd: number; bwd: number };
  outOfOrder: number;
  duplicates: number;
  /** ISCX-named time features; null where undefined. */
  features: FlowFeatures;
  label: string;
}

/** Converts a finished flow to its plain-data record. */
export function flowRecord(flow: Flow, capture?: string): FlowRecord {
  return {
    id: flow.id,
    ...(capture !== undefined ? { capture } : {}),
    ipVersion: flow.ipVersion,
    protocol: protocolNames[flow.protocol] ?? String(flow.protocol),
    src: flow.srcAddress,
    srcPort: flow.srcPort,
    dst: flow.dstAddress,
    dstPort: flow.dstPort,
    firstUs: flow.firstUs,
    lastUs: flow.lastUs,
    durationUs: flow.lastUs - flow.firstUs,
    endReason: flow.endReason,
    packets: { fwd: flow.packets[0], bwd: flow.packets[1] },
    bytes: { fwd: flow.bytes[0], bwd: flow.bytes[1] },
    frameBytes: { fwd: flow.frameBytes[0], bwd: flow.frameBytes[1] },
    payloadBytes: { fwd: flow.payloadBytes[0], bwd: flow.payloadBytes[1] },
    outOfOrder: flow.outOfOrder,
    duplicates: flow.duplicates,
    features: flowFeatures(flow),
    label: flow.label,
  };
}
