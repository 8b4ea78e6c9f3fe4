import type { PacketView } from "../../shared/capture/packet_view.ts";
import { Flow, type FlowDirection, type FlowEndReason } from "./flow.ts";
import { RunningStats, STAT } from "./running_stats.ts";
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

// Each open flow has a slot: a row of `ROW` doubles holding its forward 5-tuple and everything
// its packets update, in adjacent cache lines, rather than fields spread over the Flow, its arrays
// and its statistics objects. The table copies a row into its Flow whenever it hands the flow out
// (`#sync`).
const KEY = 0; // version·256 + protocol, srcPort·65536 + dstPort, source words 0–3, destination
const FIRST = 10; // first packet time (µs)
const LAST = 11; // latest packet time
const LAST_DIR = 12; // + direction: latest packet time per direction, -1 before the first
const DUP_HASH = 14; // + direction: content hash of the direction's previous packet
const PACKETS = 16; // + direction, and so on
const BYTES = 18;
const FRAME_BYTES = 20;
const PAYLOAD_BYTES = 22;
const TCP_FLAGS = 24;
const STATE = 26; // CLOSED | FOLLOWED | DONE << direction
const FLOW_IAT = 27; // RunningStats layouts, STAT numbers each: flow, forward, backward gaps
const FWD_IAT = FLOW_IAT + STAT;
const BWD_IAT = FWD_IAT + STAT;
const LAST_BREAK = BWD_IAT + STAT; // end of the last active period
const OUT_OF_ORDER = LAST_BREAK + 1;
const DUPLICATES = LAST_BREAK + 2;
const ACTIVE = LAST_BREAK + 3; // then IDLE: the Flow's stats array order (see flow.ts)
const IDLE = ACTIVE + STAT;
const HASH = IDLE + STAT; // the tuple hash, to find the slot's index entry again
const NEXT_SEQ = HASH + 1; // + direction: TCP sequence number the payload continues at, or -1
const ID = NEXT_SEQ + 2; // the flow's number
const ROW = 64;
const STATS = [FLOW_IAT, FWD_IAT, BWD_IAT, ACTIVE, IDLE];
const CLOSED = 1;
const FOLLOWED = 2;
const IN_CLOSED_LIST = 16;
/** Why the flow ended (or closed, while it takes residual packets): STATE bits from REASON. */
const REASON = 32;
const REASONS: readonly FlowEndReason[] = ["eof", "fin", "rst", "timeout"];
const REASON_MASK = 3 * REASON;
const FIN_CLOSED = 1 * REASON;
const RST_CLOSED = 2 * REASON;
/** Payload of direction d handed to the inspector: DONE << d. */
const DONE = 4;
// Per slot in `#links`: previous and next open flow by first packet, previous and next closed
// flow by last activity (-1: none). Kept by slot so unlinking touches no neighbouring Flow.
const PREV = 0;
const NEXT = 1;
const CLOSED_PREV = 2;
const CLOSED_NEXT = 3;
const LINKS = 4;

/**
 * Bidirectional flow table. `add()` takes decoded packets in capture order; finished flows
 * (TCP FIN both ways or RST followed by a new SYN, flow timeout, `flush()` at end of file) go to
 * the `onFlow` callback. Each open flow has a slot whose 5-tuple sits in a typed array, found
 * through an open-addressing index (linear probing) on a hash of the symmetric 5-tuple: a packet
 * is matched with integer compares and allocates nothing. The Flow object itself is made when
 * something outside the table first needs it (the payload inspector, or the flow's end), so an
 * open flow is a row until then. Open flows also sit in a list ordered by their first packet,
 * which makes timeout expiry O(1) per packet.
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
  /** Pairs (tuple hash, slot + 1; 0: empty) in a power-of-two table at most half full. */
  #index = new Int32Array(2 * 1024);
  /** `ROW` numbers per slot. */
  #rows = new Float64Array(256 * ROW);
  /** The Flow of each slot, once made (`#flowOf`). */
  #slots: Array<Flow | undefined> = [];
  /** Address words handed to a new Flow (it copies them). */
  readonly #words: [number[], number[]] = [[0, 0, 0, 0], [0, 0, 0, 0]];
  #freeSlots: number[] = [];
  #links = new Int32Array(256 * LINKS);
  /** Slots of the oldest and newest open flow (-1: none). */
  #head = -1;
  #tail = -1;
  /** Closed TCP flows, least recently active first. */
  #closedHead = -1;
  #closedTail = -1;
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
    let slot = -1;
    let dir: FlowDirection = 0;
    const index = this.#index;
    const mask = (index.length >> 1) - 1;
    for (
      let i = hash & mask, e = index[2 * i + 1]!;
      e !== 0;
      i = (i + 1) & mask, e = index[2 * i + 1]!
    ) {
      if (index[2 * i] !== hash) continue;
      const d = this.#match(e - 1, view);
      if (d >= 0) {
        slot = e - 1;
        dir = d as FlowDirection;
        break;
      }
    }
    const isSyn = view.protocol === 6 && (view.tcpFlags & (SYN | ACK)) === SYN;
    if (slot >= 0) {
      const row = slot * ROW;
      if (now - this.#rows[row + FIRST]! > this.#timeout) {
        this.#finish(slot, "timeout");
        slot = -1;
      } else if ((this.#rows[row + STATE]! & CLOSED) !== 0 && isSyn) {
        this.#finish(slot, this.#closedReason(slot));
        slot = -1;
      }
    }
    if (slot < 0) {
      slot = this.#create(view, hash);
      dir = this.#match(slot, view) as FlowDirection;
    }
    this.#addPacket(slot, view, dir);
  }

  /** Emits every open flow (end of file) in order of their first packet. */
  flush(): void {
    while (this.#head >= 0) {
      const slot = this.#head;
      const closed = (this.#rows[slot * ROW + STATE]! & CLOSED) !== 0;
      this.#finish(slot, closed ? this.#closedReason(slot) : "eof");
    }
  }

  /** The capture clock: the latest packet time seen (µs). */
  get clockUs(): number {
    return this.#clock;
  }

  #expire(): void {
    const limit = this.#clock - this.#timeout;
    while (this.#head >= 0 && this.#rows[this.#head * ROW + FIRST]! < limit) {
      this.#finish(this.#head, "timeout");
    }
    const quiet = this.#clock - this.#linger;
    while (this.#closedHead >= 0 && this.#rows[this.#closedHead * ROW + LAST]! < quiet) {
      this.#finish(this.#closedHead, this.#closedReason(this.#closedHead));
    }
  }

  #closedReason(slot: number): FlowEndReason {
    return REASONS[(this.#rows[slot * ROW + STATE]! & REASON_MASK) / REASON]!;
  }

  /** Opens a flow for the packet's 5-tuple and returns its slot. */
  #create(view: PacketView, hash: number): number {
    const id = ++this.stats.flowsCreated;
    // A capture that starts with the SYN-ACK: the SYN's sender is the forward side.
    const reversed = view.protocol === 6 && (view.tcpFlags & (SYN | ACK)) === (SYN | ACK);
    const slot = this.#insert(hash);
    const rows = this.#rows, r = slot * ROW, k = r + KEY;
    const src = reversed ? view.dst : view.src, dst = reversed ? view.src : view.dst;
    rows[k] = view.ipVersion * 256 + view.protocol;
    rows[k + 1] = reversed
      ? view.dstPort * 65536 + view.srcPort
      : view.srcPort * 65536 + view.dstPort;
    for (let i = 0; i < 4; i++) {
      rows[k + 2 + i] = src[i]!;
      rows[k + 6 + i] = dst[i]!;
    }
    rows[r + FIRST] = rows[r + LAST] = rows[r + LAST_BREAK] = view.tsUs;
    rows[r + ID] = id;
    const links = this.#links;
    links[slot * LINKS + PREV] = this.#tail;
    links[slot * LINKS + NEXT] = -1;
    if (this.#tail >= 0) links[this.#tail * LINKS + NEXT] = slot;
    else this.#head = slot;
    this.#tail = slot;
    if (++this.stats.open > this.stats.maxOpen) this.stats.maxOpen = this.stats.open;
    return slot;
  }

  /** The Flow of an open slot, made from its row on first use. */
  #flowOf(slot: number): Flow {
    let flow = this.#slots[slot];
    if (flow === undefined) {
      const rows = this.#rows, r = slot * ROW, k = r + KEY;
      const key = rows[k]!, ports = rows[k + 1]!;
      const src = this.#words[0]!, dst = this.#words[1]!;
      for (let i = 0; i < 4; i++) {
        src[i] = rows[k + 2 + i]!;
        dst[i] = rows[k + 6 + i]!;
      }
      flow = new Flow(rows[r + ID]!, {
        ipVersion: key >>> 8,
        protocol: key & 255,
        src,
        srcPort: ports >>> 16,
        dst,
        dstPort: ports & 0xffff,
      });
      flow.firstUs = rows[r + FIRST]!;
      flow.slot = slot;
      this.#slots[slot] = flow;
    }
    this.#sync(flow);
    return flow;
  }

  /** 0 when the packet goes forward in the flow of `slot`, 1 backward, -1 when it is another. */
  #match(slot: number, view: PacketView): number {
    const rows = this.#rows;
    const k = slot * ROW + KEY;
    if (rows[k] !== view.ipVersion * 256 + view.protocol) return -1;
    const sp = view.srcPort, dp = view.dstPort, s = view.src, d = view.dst;
    const s0 = s[0]!, d0 = d[0]!;
    const ports = rows[k + 1]!;
    if (ports === sp * 65536 + dp && rows[k + 2] === s0 && rows[k + 6] === d0) {
      if (
        rows[k + 3] === s[1] && rows[k + 4] === s[2] && rows[k + 5] === s[3] &&
        rows[k + 7] === d[1] && rows[k + 8] === d[2] && rows[k + 9] === d[3]
      ) return 0;
    }
    if (ports === dp * 65536 + sp && rows[k + 2] === d0 && rows[k + 6] === s0) {
      if (
        rows[k + 3] === d[1] && rows[k + 4] === d[2] && rows[k + 5] === d[3] &&
        rows[k + 7] === s[1] && rows[k + 8] === s[2] && rows[k + 9] === s[3]
      ) return 1;
    }
    return -1;
  }

  /** Takes a free slot with fresh counters, entered in the index under `hash`. */
  #insert(hash: number): number {
    let slot = this.#freeSlots.pop();
    if (slot === undefined) {
      slot = this.#slots.length;
      this.#slots.push(undefined);
      if ((slot + 1) * ROW > this.#rows.length) {
        const rows = new Float64Array(this.#rows.length * 2);
        rows.set(this.#rows);
        this.#rows = rows;
        const links = new Int32Array(this.#links.length * 2);
        links.set(this.#links);
        this.#links = links;
      }
    }
    const rows = this.#rows, r = slot * ROW;
    for (let i = r; i < r + ROW; i++) rows[i] = 0;
    rows[r + LAST_DIR] =
      rows[r + LAST_DIR + 1] =
      rows[r + NEXT_SEQ] =
      rows[r + NEXT_SEQ + 1] =
        -1;
    for (const at of STATS) RunningStats.clear(rows, r + at);
    rows[r + HASH] = hash;
    if (2 * (this.stats.open + 1) > this.#index.length >> 1) this.#grow();
    this.#place(hash, slot + 1);
    return slot;
  }

  #place(hash: number, entry: number): void {
    const index = this.#index, mask = (index.length >> 1) - 1;
    let i = hash & mask;
    while (index[2 * i + 1] !== 0) i = (i + 1) & mask;
    index[2 * i] = hash;
    index[2 * i + 1] = entry;
  }

  #grow(): void {
    const old = this.#index;
    this.#index = new Int32Array(old.length * 2);
    for (let i = 0; i < old.length; i += 2) if (old[i + 1] !== 0) this.#place(old[i]!, old[i + 1]!);
  }

  /** Frees the slot of `flow` and closes the gap in the index (backward shift: no tombstones). */
  #remove(slot: number): void {
    const hash = this.#rows[slot * ROW + HASH]!;
    const index = this.#index, mask = (index.length >> 1) - 1;
    let i = hash & mask;
    while (index[2 * i + 1] !== slot + 1) i = (i + 1) & mask;
    for (
      let j = (i + 1) & mask, e = index[2 * j + 1]!;
      e !== 0;
      j = (j + 1) & mask, e = index[2 * j + 1]!
    ) {
      // An entry may move back to i when i lies on its probe path (from its home to j).
      const h = index[2 * j]!;
      if (((j - (h & mask)) & mask) >= ((j - i) & mask)) {
        index[2 * i] = h;
        index[2 * i + 1] = e;
        i = j;
      }
    }
    index[2 * i + 1] = 0;
    this.#slots[slot] = undefined;
    this.#freeSlots.push(slot);
  }

  #addPacket(slot: number, view: PacketView, dir: FlowDirection): void {
    const now = view.tsUs;
    const rows = this.#rows, r = slot * ROW;
    const lastDir = rows[r + LAST_DIR + dir]!;
    if (this.#dupWindow > 0) {
      const h = contentHash(view);
      if (
        lastDir >= 0 && rows[r + DUP_HASH + dir] === h && now >= lastDir &&
        now - lastDir <= this.#dupWindow
      ) {
        rows[r + DUPLICATES] = rows[r + DUPLICATES]! + 1;
        this.stats.duplicates++;
        return;
      }
      rows[r + DUP_HASH + dir] = h;
    }
    this.stats.packets++;
    const first = rows[r + PACKETS]! + rows[r + PACKETS + 1]! === 0;
    rows[r + PACKETS + dir] = rows[r + PACKETS + dir]! + 1;
    rows[r + BYTES + dir] = rows[r + BYTES + dir]! + view.ipTotalLen;
    rows[r + FRAME_BYTES + dir] = rows[r + FRAME_BYTES + dir]! + view.origLen;
    rows[r + PAYLOAD_BYTES + dir] = rows[r + PAYLOAD_BYTES + dir]! + view.payloadLength;
    if (!first) {
      const last = rows[r + LAST]!;
      if (now < last) {
        // Not mixed into the time statistics: a negative gap would corrupt them.
        rows[r + OUT_OF_ORDER] = rows[r + OUT_OF_ORDER]! + 1;
        this.stats.outOfOrder++;
      } else {
        const gap = now - last;
        RunningStats.addTo(rows, r + FLOW_IAT, gap);
        if (gap > this.#threshold) {
          RunningStats.addTo(rows, r + IDLE, gap);
          RunningStats.addTo(rows, r + ACTIVE, now - rows[r + LAST_BREAK]!);
          rows[r + LAST_BREAK] = now;
        }
        rows[r + LAST] = now;
        if (lastDir >= 0) {
          RunningStats.addTo(rows, r + (dir === 0 ? FWD_IAT : BWD_IAT), now - lastDir);
        }
        rows[r + LAST_DIR + dir] = now;
      }
    } else {
      rows[r + LAST_DIR + dir] = now;
    }
    let state = rows[r + STATE]!;
    if (view.protocol === 6) {
      const f = view.tcpFlags;
      const flags = rows[r + TCP_FLAGS + dir] = rows[r + TCP_FLAGS + dir]! | f;
      if ((state & CLOSED) !== 0) {
        this.#touchClosed(slot);
      } else if ((f & RST) !== 0) {
        rows[r + STATE] = state |= CLOSED | RST_CLOSED;
        this.#touchClosed(slot);
      } else if ((flags & rows[r + TCP_FLAGS + 1 - dir]! & FIN) !== 0) {
        rows[r + STATE] = state |= CLOSED | FIN_CLOSED;
        this.#touchClosed(slot);
      }
    }
    if (view.payloadCaptured > 0) {
      if ((state & FOLLOWED) !== 0) {
        this.#inspector?.follow?.(this.#flowOf(slot), dir, view);
      } else if (this.#payloadBytes > 0 && (state & (DONE << dir)) === 0) {
        this.#collectPayload(slot, view, dir);
      }
    }
  }

  /** Copies the flow's row into the Flow, for code outside the table to read. */
  #sync(flow: Flow): void {
    const rows = this.#rows, r = flow.slot * ROW;
    flow.lastUs = rows[r + LAST]!;
    for (const d of [0, 1] as const) {
      flow.packets[d] = rows[r + PACKETS + d]!;
      flow.bytes[d] = rows[r + BYTES + d]!;
      flow.frameBytes[d] = rows[r + FRAME_BYTES + d]!;
      flow.payloadBytes[d] = rows[r + PAYLOAD_BYTES + d]!;
      flow.tcpFlags[d] = rows[r + TCP_FLAGS + d]!;
    }
    flow.outOfOrder = rows[r + OUT_OF_ORDER]!;
    flow.duplicates = rows[r + DUPLICATES]!;
    const state = rows[r + STATE]!;
    flow.closed = (state & CLOSED) !== 0;
    flow.endReason = REASONS[(state & REASON_MASK) / REASON]!;
    // The Flow keeps its five statistics in one array, in the order of STATS.
    const stats = flow.timeStats;
    for (let i = 0; i < 3 * STAT; i++) stats[i] = rows[r + FLOW_IAT + i]!;
    for (let i = 0; i < 2 * STAT; i++) stats[3 * STAT + i] = rows[r + ACTIVE + i]!;
  }

  /** Moves a closed flow to the tail of the closed list (most recently active). */
  #touchClosed(slot: number): void {
    const rows = this.#rows, links = this.#links, r = slot * ROW;
    if ((rows[r + STATE]! & IN_CLOSED_LIST) !== 0) {
      if (this.#closedTail === slot) return;
      this.#unlinkClosed(slot);
    }
    rows[r + STATE] = rows[r + STATE]! | IN_CLOSED_LIST;
    links[slot * LINKS + CLOSED_PREV] = this.#closedTail;
    links[slot * LINKS + CLOSED_NEXT] = -1;
    if (this.#closedTail >= 0) links[this.#closedTail * LINKS + CLOSED_NEXT] = slot;
    else this.#closedHead = slot;
    this.#closedTail = slot;
  }

  #unlinkClosed(slot: number): void {
    const links = this.#links;
    const prev = links[slot * LINKS + CLOSED_PREV]!, next = links[slot * LINKS + CLOSED_NEXT]!;
    if (prev >= 0) links[prev * LINKS + CLOSED_NEXT] = next;
    else this.#closedHead = next;
    if (next >= 0) links[next * LINKS + CLOSED_PREV] = prev;
    else this.#closedTail = prev;
    const r = slot * ROW;
    this.#rows[r + STATE] = this.#rows[r + STATE]! & ~IN_CLOSED_LIST;
  }

  #collectPayload(slot: number, view: PacketView, dir: FlowDirection): void {
    const rows = this.#rows, r = slot * ROW;
    if (view.protocol === 6) {
      const expected = rows[r + NEXT_SEQ + dir]!;
      if (expected >= 0 && view.tcpSeq !== expected) return;
      rows[r + NEXT_SEQ + dir] = (view.tcpSeq + view.payloadLength) >>> 0;
    }
    const flow = this.#flowOf(slot);
    const payload = flow.payload ??= [undefined, undefined];
    let buf = payload[dir];
    if (buf === undefined) buf = payload[dir] = new Uint8Array(this.#payloadBytes);
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
      this.#inspect(slot, dir);
    }
  }

  #inspect(slot: number, dir: FlowDirection): void {
    const r = slot * ROW;
    this.#rows[r + STATE] = this.#rows[r + STATE]! | (DONE << dir);
    const flow = this.#flowOf(slot);
    if (this.#inspector?.inspect(flow, dir, flow.firstPayload(dir)) === "follow") {
      this.#rows[r + STATE] = this.#rows[r + STATE]! | FOLLOWED;
    }
  }

  #finish(slot: number, reason: FlowEndReason): void {
    // Unlink from the expiry list.
    const links = this.#links, rows = this.#rows, r = slot * ROW;
    const prev = links[slot * LINKS + PREV]!, next = links[slot * LINKS + NEXT]!;
    if (prev >= 0) links[prev * LINKS + NEXT] = next;
    else this.#head = next;
    if (next >= 0) links[next * LINKS + PREV] = prev;
    else this.#tail = prev;
    if ((rows[r + STATE]! & IN_CLOSED_LIST) !== 0) this.#unlinkClosed(slot);
    this.stats.open--;
    this.stats.flowsEmitted++;
    rows[r + STATE] = (rows[r + STATE]! & ~REASON_MASK) | (REASONS.indexOf(reason) * REASON);
    const flow = this.#slots[slot];
    if (flow !== undefined) {
      for (const d of [0, 1] as const) {
        if ((rows[r + STATE]! & (DONE << d)) === 0 && flow.payloadHave[d] > 0) {
          this.#inspect(slot, d);
        }
      }
    }
    const done = this.#flowOf(slot);
    this.#remove(slot);
    this.#onFlow(done);
  }
}

function endpointHash(w: Uint32Array, port: number): number {
  let h = Math.imul(port + 0x9e3779b9, 0x85ebca6b);
  for (let i = 0; i < 4; i++) {
    h = Math.imul(h ^ w[i]!, 0xcc9e2d51);
    h ^= h >>> 15;
  }
  return h;
}

/** Direction-independent hash of the 5-tuple (30 bits). */
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
