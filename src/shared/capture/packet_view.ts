/**
 * The one packet object that flows through the analyzer. The reader fills the frame fields, and
 * `decodePacket()` the network and transport fields, in place: one instance is reused for every
 * packet of a capture, so nothing is allocated per packet. The view borrows the reader's buffer,
 * so its bytes are valid only until the callback that received it returns.
 */
export class PacketView {
  /** Buffer holding the frame; `frameStart`..`frameStart + capLen` are the captured bytes. */
  buf: Uint8Array = new Uint8Array(0);
  /** Offset of the frame's first byte in `buf`. */
  frameStart = 0;
  /** Captured length of the frame. */
  capLen = 0;
  /** Length of the frame on the wire. */
  origLen = 0;
  /** Timestamp in integer microseconds since the Unix epoch. */
  tsUs = 0;
  /** LINKTYPE_* of the frame (see `link_types.ts`). */
  linkType = 0;
  /** pcapng interface index (0 for pcap). */
  interfaceId = 0;
  /** 1-based packet number in the capture. */
  index = 0;
  /** Byte offset of the packet's record (pcap) or block (pcapng) in the file. */
  fileOffset = 0;

  // ---- filled by decodePacket() ----
  /** 0 = decoded; otherwise a `SKIP_*` reason from `decode_packet.ts`. */
  skip = 0;
  /** Number of VLAN tags crossed (802.1Q / 802.1ad / QinQ). */
  vlanTags = 0;
  /** 4 or 6; 0 when the frame carries no IP packet. */
  ipVersion = 0;
  /** Offset of the IP header in `buf`. */
  l3Offset = 0;
  /** IP total length from the header (IPv6: 40 + payload length): the flow "bytes". */
  ipTotalLen = 0;
  /** IPv4 identification (0 for IPv6). */
  ipId = 0;
  /** Transport protocol number after IPv6 extension headers. */
  protocol = 0;
  /** Source address as four 32-bit big-endian words; IPv4 uses word 0 only. */
  readonly src: Uint32Array = new Uint32Array(4);
  /** Destination address, same layout as `src`. */
  readonly dst: Uint32Array = new Uint32Array(4);
  /** True for any IPv4/IPv6 fragment (first or later). */
  isFragment = false;
  /** Transport ports; for ICMP echo both carry the echo identifier, otherwise 0. */
  srcPort = 0;
  dstPort = 0;
  /** TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10 …). */
  tcpFlags = 0;
  tcpSeq = 0;
  tcpAck = 0;
  /** ICMP/ICMPv6 type and code (-1 when not ICMP). */
  icmpType = -1;
  icmpCode = -1;
  /** Offset of the transport header in `buf`. */
  l4Offset = 0;
  /** Offset of the application payload in `buf`. */
  payloadOffset = 0;
  /** Application payload length according to the IP/transport headers. */
  payloadLength = 0;
  /** Part of the payload actually present in the capture. */
  payloadCaptured = 0;

  /** Clears the decoded fields before a new packet is decoded. */
  resetDecoded(): void {
    this.skip = 0;
    this.vlanTags = 0;
    this.ipVersion = 0;
    this.l3Offset = 0;
    this.ipTotalLen = 0;
    this.ipId = 0;
    this.protocol = 0;
    // Four stores each: cheaper per packet than two fill() calls.
    const src = this.src, dst = this.dst;
    src[0] =
      src[1] =
      src[2] =
      src[3] =
        0;
    dst[0] =
      dst[1] =
      dst[2] =
      dst[3] =
        0;
    this.isFragment = false;
    this.srcPort = 0;
    this.dstPort = 0;
    this.tcpFlags = 0;
    this.tcpSeq = 0;
    this.tcpAck = 0;
    this.icmpType = -1;
    this.icmpCode = -1;
    this.l4Offset = 0;
    this.payloadOffset = 0;
    this.payloadLength = 0;
    this.payloadCaptured = 0;
  }

  /** Copies the captured frame (for tests and debugging; allocates). */
  frameBytes(): Uint8Array {
    return this.buf.slice(this.frameStart, this.frameStart + this.capLen);
  }
}
