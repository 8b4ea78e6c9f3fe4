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

/** Parses an IPv6 address to eight 16-bit groups, or undefined. */
function ipv6Groups(text: string): number[] | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return undefined;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

/** RFC 5952 text of eight groups (longest zero run of two or more compressed). */
function ipv6Text(groups: number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
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
      const g = ipv6Groups(parts[2]!.toLowerCase());
      return g === undefined ? undefined : { address: ipv6Text(g), port, active: true };
    }
  }
  return undefined;
}
