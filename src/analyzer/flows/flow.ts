import { formatAddress } from "../../shared/net/ip.ts";
import { RunningStats, STAT } from "./running_stats.ts";

/** Why a flow ended. */
export type FlowEndReason = "fin" | "rst" | "timeout" | "eof";

/** The forward 5-tuple a flow is created with (addresses as four 32-bit words each). */
export interface FlowKey {
  ipVersion: number;
  protocol: number;
  src: ArrayLike<number>;
  srcPort: number;
  dst: ArrayLike<number>;
  dstPort: number;
}

/** Direction of a packet within its flow: 0 forward (as the flow's first packet), 1 backward. */
export type FlowDirection = 0 | 1;

/**
 * One bidirectional flow (ТВС): its 5-tuple oriented forward (the direction of the first packet,
 * or of the SYN when the capture starts with the SYN-ACK), counters and running statistics.
 * No packet lists are kept; memory per flow is constant. While a flow is open the flow table
 * keeps its counters in its own arrays and copies them here whenever it hands the flow out (to
 * the payload inspector, and when the flow ends), so they are current wherever a flow is seen.
 */
export class Flow {
  /** Sequence number of the flow in its capture (1-based, in order of creation). */
  readonly id: number;
  /** 4 or 6. */
  readonly ipVersion: number;
  /** IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6 …). */
  readonly protocol: number;
  /** Forward source (s0..s3) and destination (d0..d3) address as big-endian 32-bit words (IPv4
   * in word 0). Plain fields rather than a typed array: cheaper per flow and per match. */
  readonly s0: number;
  readonly s1: number;
  readonly s2: number;
  readonly s3: number;
  readonly d0: number;
  readonly d1: number;
  readonly d2: number;
  readonly d3: number;
  /** Forward source and destination ports (ICMP echo: the identifier; else 0). */
  readonly srcPort: number;
  readonly dstPort: number;

  /** First and last packet time in µs (last = latest seen). */
  firstUs = 0;
  lastUs = 0;
  /** Packets, IP bytes (total length), frame bytes (on the wire) and payload bytes per direction. */
  readonly packets: [number, number] = [0, 0];
  readonly bytes: [number, number] = [0, 0];
  readonly frameBytes: [number, number] = [0, 0];
  readonly payloadBytes: [number, number] = [0, 0];
  /** @internal The five statistics below, one after the other: flow, forward and backward
   * gaps, active and idle periods. */
  readonly timeStats: number[] = new Array<number>(5 * STAT).fill(0);
  /** Inter-arrival times of the whole flow and of forward / backward packets (µs). */
  readonly flowIat: RunningStats = new RunningStats(this.timeStats, 0);
  readonly fwdIat: RunningStats = new RunningStats(this.timeStats, STAT);
  readonly bwdIat: RunningStats = new RunningStats(this.timeStats, 2 * STAT);
  /** Active and idle periods: a flow gap above the activity threshold closes an active period. */
  readonly active: RunningStats = new RunningStats(this.timeStats, 3 * STAT);
  readonly idle: RunningStats = new RunningStats(this.timeStats, 4 * STAT);
  /** Packets whose timestamp is earlier than the flow's latest: counted, kept out of IATs. */
  outOfOrder = 0;
  /** Packets identical to the previous one of the same direction within the duplicate window:
   * counted here, not added to the flow. */
  duplicates = 0;
  /** OR of all TCP flags seen per direction. */
  readonly tcpFlags: [number, number] = [0, 0];
  /** TCP: FIN seen in both directions or an RST; later packets stay here until a new SYN. */
  closed = false;
  /** Set when the flow is emitted. */
  endReason: FlowEndReason = "eof";
  /** Label assigned by `--label`, a signature or a classifier (empty = unknown). */
  label = "";
  /** Free slot for later stages (signatures, sessions) to attach their findings. */
  annotations: Record<string, unknown> | undefined = undefined;

  // ---- internal state of the flow table ----
  /** @internal */ slot = -1;
  /** @internal First payload bytes per direction, once the table collects any. */
  payload: [Uint8Array | undefined, Uint8Array | undefined] | undefined = undefined;
  /** @internal */ payloadHave: [number, number] = [0, 0];

  /** Creates an empty flow for the given forward 5-tuple. */
  constructor(id: number, key: FlowKey) {
    const { src, dst } = key;
    this.id = id;
    this.ipVersion = key.ipVersion;
    this.protocol = key.protocol;
    this.s0 = src[0]!;
    this.s1 = src[1]!;
    this.s2 = src[2]!;
    this.s3 = src[3]!;
    this.d0 = dst[0]!;
    this.d1 = dst[1]!;
    this.d2 = dst[2]!;
    this.d3 = dst[3]!;
    this.srcPort = key.srcPort;
    this.dstPort = key.dstPort;
  }

  /** Forward source address as text. */
  get srcAddress(): string {
    return formatAddress([this.s0, this.s1, this.s2, this.s3], this.ipVersion);
  }

  /** Forward destination address as text. */
  get dstAddress(): string {
    return formatAddress([this.d0, this.d1, this.d2, this.d3], this.ipVersion);
  }

  /** Total packets in both directions. */
  get totalPackets(): number {
    return this.packets[0] + this.packets[1];
  }

  /** Total IP bytes in both directions. */
  get totalBytes(): number {
    return this.bytes[0] + this.bytes[1];
  }

  /** Duration in µs (last − first packet). */
  get durationUs(): number {
    return this.lastUs - this.firstUs;
  }

  /** The first payload bytes collected for a direction (empty when inspection is off). */
  firstPayload(direction: FlowDirection): Uint8Array {
    const p = this.payload?.[direction];
    return p === undefined ? new Uint8Array(0) : p.subarray(0, this.payloadHave[direction]);
  }
}
