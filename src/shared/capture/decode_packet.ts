import { linkTypes } from "./link_types.ts";
import type { PacketView } from "./packet_view.ts";

/** `PacketView.skip` reasons: why a frame gave no flow packet. */
export const skipReasons = {
  NONE: 0,
  /** ARP, LLDP, STP and any other non-IP frame. */
  NOT_IP: 1,
  /** Link type the decoder does not know. */
  LINK_TYPE: 2,
  /** Frame too short for the headers it announces. */
  TRUNCATED: 3,
  /** IP header with an impossible version, length or header length. */
  BAD_IP: 4,
  /** IPv4/IPv6 fragment other than the first: no transport header to attribute it. */
  FRAGMENT: 5,
} as const;

/** Names of the skip reasons, indexed by code (for summaries). */
export const skipReasonNames: readonly string[] = [
  "none",
  "not_ip",
  "link_type",
  "truncated",
  "bad_ip",
  "fragment",
];

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_VLAN = 0x8100;
const ETH_QINQ = 0x88a8;
const ETH_QINQ_OLD = 0x9100;

/**
 * Decodes link, network and transport headers of the frame in `view` in place (no allocation):
 * Ethernet (VLAN/QinQ), raw IPv4/IPv6, Linux SLL/SLL2, BSD null/loop; IPv4, IPv6 with extension
 * headers; TCP, UDP, ICMP, ICMPv6. Returns `view.skip` (0 when the packet has an IP header
 * usable for flows).
 */
export function decodePacket(view: PacketView): number {
  view.resetDecoded();
  const b = view.buf;
  const start = view.frameStart;
  const end = start + view.capLen;
  let o = start;
  let ethType = -1;
  switch (view.linkType) {
    case linkTypes.ETHERNET:
      if (end - o < 14) return (view.skip = skipReasons.TRUNCATED);
      ethType = (b[o + 12]! << 8) | b[o + 13]!;
      o += 14;
      break;
    case linkTypes.RAW:
    case linkTypes.RAW_OPENBSD:
    case linkTypes.RAW_BSDOS:
      if (end - o < 1) return (view.skip = skipReasons.TRUNCATED);
      ethType = b[o]! >> 4 === 6 ? ETH_IPV6 : ETH_IPV4;
      break;
    case linkTypes.IPV4:
      ethType = ETH_IPV4;
      break;
    case linkTypes.IPV6:
      ethType = ETH_IPV6;
      break;
    case linkTypes.LINUX_SLL:
      if (end - o < 16) return (view.skip = skipReasons.TRUNCATED);
      ethType = (b[o + 14]! << 8) | b[o + 15]!;
      o += 16;
      break;
    case linkTypes.LINUX_SLL2:
      if (end - o < 20) return (view.skip = skipReasons.TRUNCATED);
      ethType = (b[o]! << 8) | b[o + 1]!;
      o += 20;
      break;
    case linkTypes.NULL:
    case linkTypes.LOOP: {
      if (end - o < 4) return (view.skip = skipReasons.TRUNCATED);
      // NULL stores the address family in the capturing host's byte order, LOOP in network order.
      const be = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
      const le = ((b[o + 3]! << 24) | (b[o + 2]! << 16) | (b[o + 1]! << 8) | b[o]!) >>> 0;
      const af = view.linkType === linkTypes.LOOP ? be : Math.min(be, le);
      if (af === 2) ethType = ETH_IPV4;
      else if (af === 10 || af === 24 || af === 28 || af === 30) ethType = ETH_IPV6;
      else return (view.skip = skipReasons.NOT_IP);
      o += 4;
      break;
    }
    default:
      return (view.skip = skipReasons.LINK_TYPE);
  }
  while (ethType === ETH_VLAN || ethType === ETH_QINQ || ethType === ETH_QINQ_OLD) {
    if (end - o < 4) return (view.skip = skipReasons.TRUNCATED);
    ethType = (b[o + 2]! << 8) | b[o + 3]!;
    o += 4;
    view.vlanTags++;
  }
  if (ethType === ETH_IPV4) return decodeIpv4(view, o, end);
  if (ethType === ETH_IPV6) return decodeIpv6(view, o, end);
  return (view.skip = skipReasons.NOT_IP);
}

function decodeIpv4(view: PacketView, o: number, end: number): number {
  const b = view.buf;
  if (end - o < 20) return (view.skip = skipReasons.TRUNCATED);
  const vihl = b[o]!;
  const ihl = (vihl & 0x0f) * 4;
  if (vihl >> 4 !== 4 || ihl < 20) return (view.skip = skipReasons.BAD_IP);
  let total = (b[o + 2]! << 8) | b[o + 3]!;
  // Segmentation offload captures carry total length 0: fall back to the captured length.
  if (total === 0) total = end - o;
  if (total < ihl) return (view.skip = skipReasons.BAD_IP);
  if (end - o < ihl) return (view.skip = skipReasons.TRUNCATED);
  view.ipVersion = 4;
  view.l3Offset = o;
  view.ipTotalLen = total;
  view.ipId = (b[o + 4]! << 8) | b[o + 5]!;
  const frag = ((b[o + 6]! << 8) | b[o + 7]!) & 0x3fff;
  view.protocol = b[o + 9]!;
  view.src[0] = ((b[o + 12]! << 24) | (b[o + 13]! << 16) | (b[o + 14]! << 8) | b[o + 15]!) >>> 0;
  view.dst[0] = ((b[o + 16]! << 24) | (b[o + 17]! << 16) | (b[o + 18]! << 8) | b[o + 19]!) >>> 0;
  if (frag !== 0) {
    view.isFragment = true;
    if ((frag & 0x1fff) !== 0) return (view.skip = skipReasons.FRAGMENT);
  }
  return decodeL4(view, view.protocol, o + ihl, total - ihl, end);
}

function readWords(b: Uint8Array, o: number, out: Uint32Array): void {
  for (let i = 0; i < 4; i++, o += 4) {
    out[i] = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }
}

function decodeIpv6(view: PacketView, o: number, end: number): number {
  const b = view.buf;
  if (end - o < 40) return (view.skip = skipReasons.TRUNCATED);
  if (b[o]! >> 4 !== 6) return (view.skip = skipReasons.BAD_IP);
  let payload = (b[o + 4]! << 8) | b[o + 5]!;
  // Jumbograms and offloaded segments carry payload length 0.
  if (payload === 0) payload = Math.max(0, end - o - 40);
  view.ipVersion = 6;
  view.l3Offset = o;
  view.ipTotalLen = 40 + payload;
  readWords(b, o + 8, view.src);
  readWords(b, o + 24, view.dst);
  let next = b[o + 6]!;
  let h = o + 40;
  let remaining = payload;
  // Walk the extension headers; a bounded loop keeps malformed chains from spinning.
  for (let hops = 0; hops < 16; hops++) {
    if (next === 0 || next === 43 || next === 60 || next === 135 || next === 139 || next === 140) {
      if (end - h < 2) return (view.skip = skipReasons.TRUNCATED);
      const len = (b[h + 1]! + 1) * 8;
      next = b[h]!;
      h += len;
      remaining -= len;
    } else if (next === 51) {
      if (end - h < 2) return (view.skip = skipReasons.TRUNCATED);
      const len = (b[h + 1]! + 2) * 4;
      next = b[h]!;
      h += len;
      remaining -= len;
    } else if (next === 44) {
      if (end - h < 8) return (view.skip = skipReasons.TRUNCATED);
      view.isFragment = true;
      const offset = ((b[h + 2]! << 8) | b[h + 3]!) >> 3;
      next = b[h]!;
      h += 8;
      remaining -= 8;
      if (offset !== 0) {
        view.protocol = next;
        return (view.skip = skipReasons.FRAGMENT);
      }
    } else {
      break;
    }
    if (remaining < 0) return (view.skip = skipReasons.BAD_IP);
  }
  return decodeL4(view, next, h, remaining, end);
}

function decodeL4(view: PacketView, proto: number, o: number, length: number, end: number): number {
  const b = view.buf;
  view.protocol = proto;
  view.l4Offset = o;
  const avail = end - o;
  if (proto === 6) {
    // Ports, sequence numbers and flags sit in the first 14 bytes; options may be cut by snaplen.
    if (avail < 14 || length < 14) return (view.skip = skipReasons.TRUNCATED);
    view.srcPort = (b[o]! << 8) | b[o + 1]!;
    view.dstPort = (b[o + 2]! << 8) | b[o + 3]!;
    view.tcpSeq = ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
    view.tcpAck = ((b[o + 8]! << 24) | (b[o + 9]! << 16) | (b[o + 10]! << 8) | b[o + 11]!) >>> 0;
    view.tcpFlags = b[o + 13]!;
    const hl = (b[o + 12]! >> 4) * 4;
    if (hl < 20 || hl > length) return (view.skip = skipReasons.BAD_IP);
    setPayload(view, o + hl, length - hl, end);
  } else if (proto === 17 || proto === 136) {
    if (avail < 4 || length < 8) return (view.skip = skipReasons.TRUNCATED);
    view.srcPort = (b[o]! << 8) | b[o + 1]!;
    view.dstPort = (b[o + 2]! << 8) | b[o + 3]!;
    setPayload(view, o + 8, length - 8, end);
  } else if (proto === 1 || proto === 58) {
    if (avail < 2 || length < 4) return (view.skip = skipReasons.TRUNCATED);
    const type = b[o]!;
    view.icmpType = type;
    view.icmpCode = b[o + 1]!;
    // Echo request and reply share the identifier: using it as both ports pairs them up.
    const echo = proto === 1 ? type === 0 || type === 8 : type === 128 || type === 129;
    if (echo && avail >= 6) view.srcPort = view.dstPort = (b[o + 4]! << 8) | b[o + 5]!;
    setPayload(view, o + Math.min(8, length), Math.max(0, length - 8), end);
  } else {
    setPayload(view, o, Math.max(0, length), end);
  }
  return 0;
}

function setPayload(view: PacketView, o: number, length: number, end: number): void {
  view.payloadOffset = o;
  view.payloadLength = length;
  view.payloadCaptured = Math.max(0, Math.min(length, end - o));
}
