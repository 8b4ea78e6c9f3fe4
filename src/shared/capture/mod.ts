/** Capture reading: pcap/pcapng container, link/IP/transport decoding, the packet view. */
export { CaptureReader } from "./capture_reader.ts";
export type { ByteSource, CaptureFormat, CaptureReaderOptions } from "./capture_reader.ts";
export { CaptureError } from "./capture_error.ts";
export { decodePacket, skipReasonNames, skipReasons } from "./decode_packet.ts";
export { formatAddress } from "../net/ip.ts";
export { linkTypes } from "./link_types.ts";
export { PacketView } from "./packet_view.ts";
export { streamSource } from "./stream_source.ts";
export type { StreamSource } from "./stream_source.ts";
