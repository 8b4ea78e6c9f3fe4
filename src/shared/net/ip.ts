/**
 * Textual IP addresses to comparable keys: IPv4 as an unsigned 32-bit number, IPv6 as 32 hex
 * digits (fixed width, so string order is address order). IPv4-mapped IPv6 becomes IPv4.
 */
export type IpKey = { v: 4; n: number } | { v: 6; hex: string };

/** Parses dotted IPv4 into a number, or undefined. */
export function parseIPv4Number(text: string): number | undefined {
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
    const v4 = parseIPv4Number(s.slice(lastColon + 1));
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
  const v4 = parseIPv4Number(text);
  if (v4 !== undefined) return { v: 4, n: v4 };
  if (!text.includes(":")) return undefined;
  const hex = parseIPv6Hex(text);
  if (hex === undefined) return undefined;
  if (hex.startsWith("00000000000000000000ffff")) return { v: 4, n: parseInt(hex.slice(24), 16) };
  return { v: 6, hex };
}
