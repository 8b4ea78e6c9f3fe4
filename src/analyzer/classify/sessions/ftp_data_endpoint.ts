import { formatAddress } from "../../../shared/net/ip.ts";
import { parseIPv6Hex } from "../../../shared/net/ip.ts";

/** Where an FTP data connection will go, as announced on the control connection. */
export interface FtpDataEndpoint {
  /** Address the data connection is made to; undefined = the control connection's server
   * (EPSV names only a port). IPv6 in RFC 5952 form. */
  address: string | undefined;
  port: number;
  /** true: PORT/EPRT, the server connects to the client; false: PASV/EPSV, the client connects. */
  active: boolean;
}

function octets(parts: string[]): number[] | undefined {
  const n = parts.map((p) => Number(p.trim()));
  return n.every((v) => Number.isInteger(v) && v >= 0 && v <= 255) ? n : undefined;
}

/** IPv6 text in the flow table's own spelling (RFC 5952), or undefined when not IPv6. */
function ipv6Text(text: string): string | undefined {
  const hex = parseIPv6Hex(text);
  if (hex === undefined) return undefined;
  const words = [0, 8, 16, 24].map((i) => parseInt(hex.slice(i, i + 8), 16));
  return formatAddress(words, 6);
}

/**
 * Reads a data-connection announcement from one FTP control line: a server's `227` (PASV) or
 * `229` (EPSV) reply, or a client's `PORT` or `EPRT` command (RFC 959, RFC 2428). Anything else
 * gives undefined.
 */
export function ftpDataEndpoint(line: string, fromServer: boolean): FtpDataEndpoint | undefined {
  if (fromServer) {
    if (line.startsWith("227")) {
      const m = /(\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3})/
        .exec(line);
      const n = m ? octets(m[1]!.split(",")) : undefined;
      if (n === undefined) return undefined;
      const port = n[4]! * 256 + n[5]!;
      return port > 0 ? { address: n.slice(0, 4).join("."), port, active: false } : undefined;
    }
    if (line.startsWith("229")) {
      const m = /\((.)\1\1(\d{1,5})\1\)/.exec(line);
      const port = m ? Number(m[2]) : 0;
      return port > 0 && port < 65536 ? { address: undefined, port, active: false } : undefined;
    }
    return undefined;
  }
  const upper = line.slice(0, 5).toUpperCase();
  if (upper === "PORT ") {
    const n = octets(line.slice(5).split(","));
    if (n === undefined || n.length !== 6) return undefined;
    const port = n[4]! * 256 + n[5]!;
    return port > 0 ? { address: n.slice(0, 4).join("."), port, active: true } : undefined;
  }
  if (upper === "EPRT ") {
    const arg = line.slice(5).trim();
    const d = arg[0];
    if (d === undefined) return undefined;
    const parts = arg.split(d);
    // "|1|132.235.1.2|6275|" splits into ["", "1", "132.235.1.2", "6275", ""].
    if (parts.length !== 5) return undefined;
    const port = Number(parts[3]);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
    if (parts[1] === "1") {
      const n = octets(parts[2]!.split("."));
      return n !== undefined && n.length === 4
        ? { address: n.join("."), port, active: true }
        : undefined;
    }
    if (parts[1] === "2") {
      const address = ipv6Text(parts[2]!);
      return address === undefined ? undefined : { address, port, active: true };
    }
  }
  return undefined;
}
