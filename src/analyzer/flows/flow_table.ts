import type { PacketView } from "../../shared/capture/packet_view.ts";
import { Flow, type FlowDirection, type FlowEndReason } from "./flow.ts";
import { fnv1aBytes, fnv1aStep, FNV_OFFSET } from "../../shared/hash/fnv1a.ts";

/**
 * Hook for later stages (signatures): receives the first `payloadBytes` bytes of each direction
 * of a flow, once per direction, as soon as they are collected, `ready()` says the bytes so far
 * are enough, or the flow ends with fewer.
 * TCP payload is taken in sequence order; retransmissions and segments after a gap are ignored.
 */
export interface PayloadInspector {
  /** Sees the first payload bytes of one direction. Returning `"follow"` asks for every later
   * packet with payload of this flow (both directions) through `follow()`, e.g. to read the
   * PASV/PORT replies of an FTP control connection. */
  inspect(flow: Flow, direction: FlowDirection, payload: Uint8Array): void | "follow";
  /** Called for each packet with captured payload of a followed flow; the view is only valid
   * during the call (payload at `view.payloadOffset`, `view.payloadCaptured` bytes). */
  follow?(flow: Flow, direction: FlowDirection, view: PacketView): void;
  /** Asked after each collected segment while fewer than `payloadBytes` bytes are in: `true`
   * inspects the direction now (e.g. a complete request header, a whole UDP datagram), so a
   * control connection can be followed from its first line and a datagram is not mixed with the
   * next one. */
  ready?(flow: Flow, direction: FlowDirection, payload: Uint8Array): boolean;
}

/** Options of {@linkcode FlowTable}. */
export interface FlowTableOptions {
  /** A flow is cut when a packet arrives more than this long after its first packet (µs).
   * This is the ISCX/CICFlowMeter "flow timeout". Default 120 s. */
  flowTimeoutUs?: number;
  /** A flow gap above this ends an active period and counts as idle (µs). Default 1 s. */
  activityThresholdUs?: number;
  /** Identical packets in the same direction closer than this are duplicates (µs). Default 1 ms;
   * 0 disables duplicate detection. */
  duplicateWindowUs?: number;
  /** A closed TCP flow (FIN both ways or RST) keeps residual packets until a new SYN, but is
   * emitted once it has seen no packet for this long (µs), so closed flows do not pile up in
   * memory until the flow timeout. Default 10 s. */
  closedLingerUs?: number;
  /** Payload bytes per direction collected for the inspector (0 = none). Default 0, or 64 when
   * an inspector is given. */
  payloadBytes?: number;
  /** Optional payload inspector. */
  inspector?: PayloadInspector;
}

/** Running counters of a {@linkcode FlowTable}. */
export interface FlowTableStats {
  /** Packets added to flows (duplicates excluded). */
  packets: number;
  /** Flows created / emitted. */
  flowsCreated: number;
  flowsEmitted: number;
  /** Flows open right now, and the most open at once. */
  open: number;
  maxOpen: number;
  /** Packets earlier than their flow's latest packet. */
  outOfOrder: number;
  /** Packets earlier than the previous packet of the capture. */
  captureOutOfOrder: number;
  /** Duplicate packets dropped. */
  duplicates: number;
}

const SYN = 0x02;
const FIN = 0x01;
const RST = 0x04;
const ACK = 0x10;

/**
 * Bidirectional flow table. `add()` takes decoded packets in capture order; finished flows
 * (TCP FIN both ways or RST followed by a new SYN, flow timeout, `flush()` at end of file) go to
 * the `onFlow` callback. Lookup is a hash of the symmetric 5-tuple with chained buckets in a
 * `Map<number, Flow>`, so a packet allocates nothing; open flows also sit in a list ordered by
 * their first packet, which makes timeout expiry O(1) per packet.
 */
export class FlowTable {
  /** Counters, updated as packets arrive. */
  readonly stats: FlowTableStats = {
    packets: 0,
    flowsCreated: 0,
    flowsEmitted: 0,
    open: 0,
    maxOpen: 0,
    outOfOrder: 0,
    captureOutOfOrder: 0,
    duplicates: 0,
  };
  readonly #buckets = new Map<number, Flow>();
  #head: Flow | undefined = undefined;
  #tail: Flow | undefined = undefined;
  /** Closed TCP flows, least recently active first. */
  #closedHead: Flow | undefined = undefined;
  #closedTail: Flow | undefined = undefined;
  readonly #linger: number;
  #clock = -Infinity;
  readonly #timeout: number;
  readonly #threshold: number;
  readonly #dupWindow: number;
  readonly #payloadBytes: number;
  readonly #inspector: PayloadInspector | undefined;
  readonly #onFlow: (flow: Flow) => void;

  /** Creates a table that hands every finished flow to `onFlow`. */
  constructor(options: FlowTableOptions, onFlow: (flow: Flow) => void) {
    this.#timeout = options.flowTimeoutUs ?? 120_000_000;
    this.#threshold = options.activityThresholdUs ?? 1_000_000;
    this.#dupWindow = options.duplicateWindowUs ?? 1000;
    this.#linger = options.closedLingerUs ?? 10_000_000;
    this.#inspector = options.inspector;
    this.#payloadBytes = options.payloadBytes ?? (options.inspector ? 64 : 0);
    if (!(this.#timeout > 0)) {
      throw new RangeError(
        `Cannot create flow table: flowTimeoutUs must be > 0, got ${this.#timeout}`,
      );
    }
    this.#onFlow = onFlow;
  }

  /** Adds one decoded packet (`view.skip === 0`). */
  add(view: PacketView): void {
    const now = view.tsUs;
    if (now < this.#clock) this.stats.captureOutOfOrder++;
    else this.#clock = now;
    this.#expire();

    const hash = tupleHash(view);
    let flow = this.#buckets.get(hash);
    let dir: FlowDirection = 0;
    while (flow !== undefined) {
      const d = matchDirection(flow, view);
      if (d >= 0) {
        dir = d as FlowDirection;
        break;
      }
      flow = flow.nextInBucket;
    }
    const isSyn = view.protocol === 6 && (view.tcpFlags & (SYN | ACK)) === SYN;
    if (flow !== undefined) {
      if (now - flow.firstUs > this.#timeout) {
        this.#finish(flow, "timeout");
        flow = undefined;
      } else if (flow.closed && isSyn) {
        this.#finish(flow, flow.endReason);
        flow = undefined;
      }
    }
    if (flow === undefined) {
      flow = this.#create(view, hash);
      dir = matchDirection(flow, view) as FlowDirection;
    }
    this.#addPacket(flow, view, dir);
  }

  /** Emits every open flow (end of file) in order of their first packet. */
  flush(): void {
    while (this.#head !== undefined) {
      const f = this.#head;
      this.#finish(f, f.closed ? f.endReason : "eof");
    }
  }

  /** The capture clock: the latest packet time seen (µs). */
  get clockUs(): number {
    return this.#clock;
  }

  #expire(): void {
    const limit = this.#clock - this.#timeout;
    while (this.#head !== undefined && this.#head.firstUs < limit) {
      this.#finish(this.#head, "timeout");
    }
    const quiet = this.#clock - this.#linger;
    while (this.#closedHead !== undefined && this.#closedHead.lastUs < quiet) {
      this.#finish(this.#closedHead, this.#closedHead.endReason);
    }
  }

  #create(view: PacketView, hash: number): Flow {
    const id = ++this.stats.flowsCreated;
    // A capture that starts with the SYN-ACK: the SYN's sender is the forward side.
    const reversed = view.protocol === 6 && (view.tcpFlags & (SYN | ACK)) === (SYN | ACK);
    const flow = new Flow(
      id,
      reversed
        ? {
          ipVersion: view.ipVersion,
          protocol: 6,
          src: view.dst,
          srcPort: view.dstPort,
          dst: view.src,
          dstPort: view.srcPort,
        }
        : {
          ipVersion: view.ipVersion,
          protocol: view.protocol,
          src: view.src,
          srcPort: view.srcPort,
          dst: view.dst,
          dstPort: view.dstPort,
        },
    );
    flow.firstUs = flow.lastUs = flow.lastBreakUs = view.tsUs;
    flow.hash = hash;
    flow.nextInBucket = this.#buckets.get(hash);
    this.#buckets.set(hash, flow);
    flow.prev = this.#tail;
    if (this.#tail !== undefined) this.#tail.next = flow;
    else this.#head = flow;
    this.#tail = flow;
    if (++this.stats.open > this.stats.maxOpen) this.stats.maxOpen = this.stats.open;
    return flow;
  }

  #addPacket(flow: Flow, view: PacketView, dir: FlowDirection): void {
    const now = view.tsUs;
    const lastDir = flow.lastDirUs[dir];
    if (this.#dupWindow > 0) {
      const h = contentHash(view);
      if (
        lastDir >= 0 && flow.dupHash[dir] === h && now >= lastDir &&
        now - lastDir <= this.#dupWindow
      ) {
        flow.duplicates++;
        this.stats.duplicates++;
        return;
      }
      flow.dupHash[dir] = h;
    }
    this.stats.packets++;
    const first = flow.packets[0] + flow.packets[1] === 0;
    flow.packets[dir]++;
    flow.bytes[dir] += view.ipTotalLen;
    flow.frameBytes[dir] += view.origLen;
    flow.payloadBytes[dir] += view.payloadLength;
    if (!first) {
      if (now < flow.lastUs) {
        // Not mixed into the time statistics: a negative gap would corrupt them.
        flow.outOfOrder++;
        this.stats.outOfOrder++;
      } else {
        const gap = now - flow.lastUs;
        flow.flowIat.add(gap);
        if (gap > this.#threshold) {
          flow.idle.add(gap);
          flow.active.add(now - flow.lastBreakUs);
          flow.lastBreakUs = now;
        }
        flow.lastUs = now;
        if (lastDir >= 0) (dir === 0 ? flow.fwdIat : flow.bwdIat).add(now - lastDir);
        flow.lastDirUs[dir] = now;
      }
    } else {
      flow.lastDirUs[dir] = now;
    }
    if (view.protocol === 6) {
      const f = view.tcpFlags;
      flow.tcpFlags[dir] |= f;
      if (flow.closed) {
        this.#touchClosed(flow);
      } else if ((f & RST) !== 0) {
        flow.closed = true;
        flow.endReason = "rst";
        this.#touchClosed(flow);
      } else if ((flow.tcpFlags[0] & flow.tcpFlags[1] & FIN) !== 0) {
        flow.closed = true;
        flow.endReason = "fin";
        this.#touchClosed(flow);
      }
    }
    if (view.payloadCaptured > 0) {
      if (flow.followed) this.#inspector?.follow?.(flow, dir, view);
      else if (this.#payloadBytes > 0 && !flow.payloadDone[dir]) {
        this.#collectPayload(flow, view, dir);
      }
    }
  }

  /** Moves a closed flow to the tail of the closed list (most recently active). */
  #touchClosed(flow: Flow): void {
    if (flow.inClosedList) {
      if (this.#closedTail === flow) return;
      this.#unlinkClosed(flow);
    }
    flow.inClosedList = true;
    flow.closedPrev = this.#closedTail;
    flow.closedNext = undefined;
    if (this.#closedTail !== undefined) this.#closedTail.closedNext = flow;
    else this.#closedHead = flow;
    this.#closedTail = flow;
  }

  #unlinkClosed(flow: Flow): void {
    if (flow.closedPrev !== undefined) flow.closedPrev.closedNext = flow.closedNext;
    else this.#closedHead = flow.closedNext;
    if (flow.closedNext !== undefined) flow.closedNext.closedPrev = flow.closedPrev;
    else this.#closedTail = flow.closedPrev;
    flow.closedPrev = flow.closedNext = undefined;
    flow.inClosedList = false;
  }

  #collectPayload(flow: Flow, view: PacketView, dir: FlowDirection): void {
    if (view.protocol === 6) {
      const expected = flow.nextSeq[dir];
      if (expected >= 0 && view.tcpSeq !== expected) return;
      flow.nextSeq[dir] = (view.tcpSeq + view.payloadLength) >>> 0;
    }
    let buf = flow.payload[dir];
    if (buf === undefined) buf = flow.payload[dir] = new Uint8Array(this.#payloadBytes);
    const have = flow.payloadHave[dir];
    const n = Math.min(view.payloadCaptured, this.#payloadBytes - have);
    // A byte loop instead of subarray()+set(): no view object per packet on the hot path.
    const src = view.buf;
    for (let i = 0, o = view.payloadOffset; i < n; i++) buf[have + i] = src[o + i]!;
    flow.payloadHave[dir] = have + n;
    // A segment cut by the snap length leaves a hole: what we have is all we will get.
    if (
      have + n >= this.#payloadBytes || view.payloadCaptured < view.payloadLength ||
      this.#inspector?.ready?.(flow, dir, buf.subarray(0, have + n)) === true
    ) {
      this.#inspect(flow, dir);
    }
  }

  #inspect(flow: Flow, dir: FlowDirection): void {
    flow.payloadDone[dir] = true;
    if (this.#inspector?.inspect(flow, dir, flow.firstPayload(dir)) === "follow") {
      flow.followed = true;
    }
  }

  #finish(flow: Flow, reason: FlowEndReason): void {
    // Unlink from the expiry list.
    if (flow.prev !== undefined) flow.prev.next = flow.next;
    else this.#head = flow.next;
    if (flow.next !== undefined) flow.next.prev = flow.prev;
    else this.#tail = flow.prev;
    flow.prev = flow.next = undefined;
    if (flow.inClosedList) this.#unlinkClosed(flow);
    // Unlink from its bucket chain.
    const headOfBucket = this.#buckets.get(flow.hash);
    if (headOfBucket === flow) {
      if (flow.nextInBucket === undefined) this.#buckets.delete(flow.hash);
      else this.#buckets.set(flow.hash, flow.nextInBucket);
    } else {
      let f = headOfBucket;
      while (f !== undefined && f.nextInBucket !== flow) f = f.nextInBucket;
      if (f !== undefined) f.nextInBucket = flow.nextInBucket;
    }
    flow.nextInBucket = undefined;
    this.stats.open--;
    this.stats.flowsEmitted++;
    flow.endReason = reason;
    for (const d of [0, 1] as const) {
      if (!flow.payloadDone[d] && flow.payloadHave[d] > 0) this.#inspect(flow, d);
    }
    this.#onFlow(flow);
  }
}

/** 0 when the packet goes forward in `flow`, 1 backward, -1 when it is another flow. */
function matchDirection(flow: Flow, view: PacketView): number {
  if (flow.protocol !== view.protocol || flow.ipVersion !== view.ipVersion) return -1;
  const sp = view.srcPort;
  const dp = view.dstPort;
  const s = view.src;
  const d = view.dst;
  const s0 = s[0]!;
  const d0 = d[0]!;
  if (flow.srcPort === sp && flow.dstPort === dp && flow.s0 === s0 && flow.d0 === d0) {
    if (
      flow.s1 === s[1] && flow.s2 === s[2] && flow.s3 === s[3] &&
      flow.d1 === d[1] && flow.d2 === d[2] && flow.d3 === d[3]
    ) return 0;
  }
  if (flow.srcPort === dp && flow.dstPort === sp && flow.s0 === d0 && flow.d0 === s0) {
    if (
      flow.s1 === d[1] && flow.s2 === d[2] && flow.s3 === d[3] &&
      flow.d1 === s[1] && flow.d2 === s[2] && flow.d3 === s[3]
    ) return 1;
  }
  return -1;
}

function endpointHash(w: Uint32Array, port: number): number {
  let h = Math.imul(port + 0x9e3779b9, 0x85ebca6b);
  for (let i = 0; i < 4; i++) {
    h = Math.imul(h ^ w[i]!, 0xcc9e2d51);
    h ^= h >>> 15;
  }
  return h;
}

/** Direction-independent hash of the 5-tuple, kept in small-integer range for the Map key. */
function tupleHash(view: PacketView): number {
  let h = (endpointHash(view.src, view.srcPort) + endpointHash(view.dst, view.dstPort)) | 0;
  h = Math.imul(h ^ view.protocol, 0x1b873593);
  h ^= h >>> 13;
  return h & 0x3fffffff;
}

/** FNV-1a over the IP length/id and the first transport bytes (header incl. checksum). */
function contentHash(view: PacketView): number {
  const h = fnv1aStep(FNV_OFFSET ^ view.ipTotalLen, view.ipId);
  const start = view.l4Offset;
  return fnv1aBytes(view.buf, start, Math.min(start + 32, view.frameStart + view.capLen), h);
}
