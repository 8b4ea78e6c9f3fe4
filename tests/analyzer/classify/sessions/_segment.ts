import type { PacketView } from "../../../../src/shared/capture/packet_view.ts";

const enc = new TextEncoder();

/** The few PacketView fields the followers read: payload bytes and the TCP sequence number. */
export function segment(text: string, seq: number, captured = text.length): PacketView {
  const buf = enc.encode(`xx${text}`);
  return {
    buf,
    tcpSeq: seq,
    payloadOffset: 2,
    payloadLength: text.length,
    payloadCaptured: captured,
  } as unknown as PacketView;
}
