import { bittorrentSignature } from "./bittorrent_signature.ts";
import { dnsSignature } from "./dns_signature.ts";
import { ftpSignature } from "./ftp_signature.ts";
import { httpSignature } from "./http_signature.ts";
import { openvpnSignature } from "./openvpn_signature.ts";
import type { SignatureInput, SignatureMatch } from "./signature_match.ts";
import { socks5Signature } from "./socks5_signature.ts";
import { sshSignature } from "./ssh_signature.ts";
import { telnetSignature } from "./telnet_signature.ts";
import { tlsSignature } from "./tls_signature.ts";
import { wireguardSignature } from "./wireguard_signature.ts";

type Signature = (input: SignatureInput) => SignatureMatch | undefined;

/** Most specific first: each of these rejects the others' first bytes. */
const TCP: readonly Signature[] = [
  tlsSignature,
  httpSignature,
  sshSignature,
  bittorrentSignature,
  socks5Signature,
  telnetSignature,
  ftpSignature,
  openvpnSignature,
  dnsSignature,
];
const UDP: readonly Signature[] = [
  dnsSignature,
  bittorrentSignature,
  wireguardSignature,
  openvpnSignature,
];

/**
 * Runs the payload signatures over the first bytes of both directions of a flow and returns the
 * first match (TCP: TLS, HTTP, SSH, BitTorrent, SOCKS5, telnet, FTP, OpenVPN, DNS; UDP: DNS,
 * BitTorrent DHT/tracker/uTP, WireGuard, OpenVPN), or undefined.
 */
export function matchSignatures(input: SignatureInput): SignatureMatch | undefined {
  if (input.fwd.length === 0 && input.bwd.length === 0) return undefined;
  const list = input.protocol === 6 ? TCP : input.protocol === 17 ? UDP : undefined;
  if (list === undefined) return undefined;
  for (const signature of list) {
    const match = signature(input);
    if (match !== undefined) return match;
  }
  return undefined;
}
