/** Protocols the payload signatures recognise. */
export type SignatureProtocol =
  | "http"
  | "tls"
  | "dns"
  | "ssh"
  | "ftp"
  | "telnet"
  | "socks5"
  | "bittorrent"
  | "openvpn"
  | "wireguard";

/** What a signature found in the first payload bytes of a flow. */
export interface SignatureMatch {
  /** The protocol recognised. */
  protocol: SignatureProtocol;
  /** Host name the flow names (HTTP Host, TLS SNI, DNS query name, SOCKS5 target), lower case. */
  domain?: string;
  /** HTTP User-Agent, when the request carried one. */
  userAgent?: string;
  /** Which part of the protocol matched (e.g. `dht`, `handshake`, `request`). */
  detail?: string;
}

/** The first payload bytes of both directions of a flow, as the signatures see them. */
export interface SignatureInput {
  /** IP protocol number: 6 TCP, 17 UDP (others match nothing). */
  protocol: number;
  /** First payload bytes sent forward (by the flow's initiator) and backward. */
  fwd: Uint8Array;
  bwd: Uint8Array;
  /** Forward source and destination port (weak hints only; no signature matches on ports alone). */
  srcPort: number;
  dstPort: number;
}
