/** Payload signatures: protocol and domain from the first bytes of each direction of a flow. */
export { matchSignatures } from "./match_signatures.ts";
export type { SignatureInput, SignatureMatch, SignatureProtocol } from "./signature_match.ts";
export { payloadReady } from "./payload_ready.ts";
export { builtinLabelConfig, labelConfig } from "./label_config.ts";
export type { LabelConfig, LabelGroup } from "./label_config.ts";
export {
  httpSignature,
  isHttpResponse,
  parseHttpRequest,
  parseHttpResponse,
} from "./http_signature.ts";
export type { HttpFraming, HttpRequestHead, HttpResponseHead } from "./http_signature.ts";
export { parseClientHello, tlsSignature } from "./tls_signature.ts";
export type { ClientHelloInfo } from "./tls_signature.ts";
export { dnsSignature, parseDnsMessage } from "./dns_signature.ts";
export type { DnsMessage } from "./dns_signature.ts";
export { sshIdentification, sshSignature } from "./ssh_signature.ts";
export { ftpSignature, ftpVerdict, isGreeting220 } from "./ftp_signature.ts";
export { telnetCommands, telnetSignature } from "./telnet_signature.ts";
export { socks5Signature } from "./socks5_signature.ts";
export { bittorrentSignature, isDhtMessage, isPeerHandshake } from "./bittorrent_signature.ts";
export { openvpnSignature } from "./openvpn_signature.ts";
export { wireguardSignature } from "./wireguard_signature.ts";
