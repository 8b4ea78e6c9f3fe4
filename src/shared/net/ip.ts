/**
 * Textual IP addresses to comparable keys: IPv4 as an unsigned 32-bit number, IPv6 as 32 hex
 * digits (fixed width, so string order is address order). IPv4-mapped IPv6 becomes IPv4.
 */
export type IpKey = { v: 4; n: number } | { v: 6; hex: string };

/** Parses dotted IPv4 into a number (the wire's `remote_ip`), or undefined. */
export function parseIPv4(text: string): number | undefined {
  let value = 0;
  let octet = -1;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (octet < 0 || ++dots > 3) return undefined;
      value = value * 256 + octet;
      octet = -1;
    } else if (c >= 48 && c <= 57) {
      octet = octet < 0 ? c - 48 : octet * 10 + c - 48;
      if (octet > 255) return undefined;
    } else return undefined;
  }
  if (dots !== 3 || octet < 0) return undefined;
  return value * 256 + octet;
}

/** Expands IPv6 text (with ::, embedded IPv4, optional %zone) to 32 hex digits, or undefined. */
export function parseIPv6Hex(text: string): string | undefined {
  let s = text;
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const lastColon = s.lastIndexOf(":");
  if (lastColon >= 0 && s.indexOf(".", lastColon) > 0) {
    const v4 = parseIPv4(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    s = `${s.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string): string[] | undefined => {
    if (part === "") return [];
    const groups = part.split(":");
    for (const g of groups) if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    return groups;
  };
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !rest) return undefined;
  const given = [...head, ...rest];
  let groups: string[];
  if (halves.length === 2) {
    if (given.length > 7) return undefined;
    groups = [...head, ...Array(8 - given.length).fill("0"), ...rest];
  } else {
    if (given.length !== 8) return undefined;
    groups = given;
  }
  return groups.map((g) => g.padStart(4, "0").toLowerCase()).join("");
}

/** The comparable key of an address, or undefined when it is not an IP address. */
export function ipKey(text: string): IpKey | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return { v: 4, n: v4 };
  if (!text.includes(":")) return undefined;
  const hex = parseIPv6Hex(text);
  if (hex === undefined) return undefined;
  if (hex.startsWith("00000000000000000000ffff")) return { v: 4, n: parseInt(hex.slice(24), 16) };
  return { v: 6, hex };
}

/** Dotted text of an IPv4 address held as an unsigned 32-bit number. */
export function formatIPv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/**
 * Formats an address held as four big-endian 32-bit words (IPv4 in word 0) as text; IPv6 uses the
 * RFC 5952 form (lower case, longest zero run compressed).
 */
export function formatAddress(words: ArrayLike<number>, version: number): string {
  if (version === 4) return formatIPv4(words[0]! >>> 0);
  const groups: number[] = [];
  for (let i = 0; i < 4; i++) {
    const w = words[i]! >>> 0;
    groups.push(w >>> 16, w & 0xffff);
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/** RFC 5952 text of an IPv6 address given as 32 hex digits (as {@linkcode parseIPv6Hex} makes). */
export function formatIPv6Hex(hex: string): string {
  const words = [0, 8, 16, 24].map((i) => parseInt(hex.slice(i, i + 8), 16));
  return formatAddress(words, 6);
}

/**
 * The one canonical text of an address (dotted IPv4; RFC 5952 IPv6, as flows and records store
 * it), or undefined when `text` is not an IP address. IPv4-mapped IPv6 stays IPv6 text.
 */
export function normalizeIp(text: string): string | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return formatIPv4(v4);
  if (!text.includes(":")) return undefined;
  const hex = parseIPv6Hex(text);
  return hex === undefined ? undefined : formatIPv6Hex(hex);
}

/** Private, loopback, link-local, CGNAT, multicast, unspecified: not a public client. */
export function isPrivateAddress(key: IpKey): boolean {
  if (key.v === 4) {
    const n = key.n;
    const a = n >>> 24;
    const ab = n >>> 16;
    return a === 0 || a === 10 || a === 127 || a >= 224 ||
      n >>> 22 === 401 || // 100.64.0.0/10
      ab === 0xa9fe || // 169.254.0.0/16
      n >>> 20 === 0xac1 || // 172.16.0.0/12
      ab === 0xc0a8; // 192.168.0.0/16
  }
  const hex = key.hex;
  if (/^0{31}[01]$/.test(hex)) return true; // :: and ::1
  const top = parseInt(hex.slice(0, 3), 16);
  return (top & 0xfe0) === 0xfc0 || // fc00::/7
    (top & 0xffc) === 0xfe8 || // fe80::/10
    (top & 0xff0) === 0xff0; // ff00::/8
}

/**
 * The source an address counts as: IPv4 text unchanged; IPv6 reduced to its `/prefix` network
 * in RFC 5952 form with the length (`2001:db8:a:b::/64`), so one host rotating addresses inside
 * its /64 is one source. `prefix` 128 (or text that is not IPv6) returns the address itself.
 */
export function sourceOf(ip: string, prefix: number): string {
  if (prefix >= 128 || !ip.includes(":")) return ip;
  const hex = parseIPv6Hex(ip);
  if (hex === undefined) return ip;
  if (hex.startsWith("00000000000000000000ffff")) return formatIPv4(parseInt(hex.slice(24), 16));
  const full = prefix >> 2;
  let masked = hex.slice(0, full);
  const rest = prefix & 3;
  if (rest > 0) {
    const nibble = parseInt(hex[full]!, 16) & ((0xf << (4 - rest)) & 0xf);
    masked += nibble.toString(16);
  }
  return `${formatIPv6Hex(masked.padEnd(32, "0"))}/${prefix}`;
}
