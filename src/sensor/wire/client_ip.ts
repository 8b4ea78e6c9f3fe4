import { formatIPv4, formatIPv6Hex, ipKey } from "../../shared/net/ip.ts";

/**
 * The canonical text of a record's textual client address (`remote_addr`): dotted IPv4 (an
 * IPv4-mapped IPv6 address included, as a dual-stack listener reports IPv4 clients) or RFC 5952
 * IPv6 (zone and brackets dropped); undefined when it is not a usable client address — not an
 * IP address at all (`not-an-ip`, `1.2.3.4; nft flush ruleset`, `10.0.0.1\n`) or the
 * unspecified one (`::`, `0.0.0.0`), which no client sends from. The address becomes ban keys
 * and nftables set elements, so anything else is refused before the chain.
 *
 * @example
 * ```ts
 * import { clientIp } from "./client_ip.ts";
 * clientIp("2001:DB8:0:0:0:0:0:1"); // "2001:db8::1"
 * clientIp("::"); // undefined
 * ```
 */
export function clientIp(text: string): string | undefined {
  const key = ipKey(text);
  if (key === undefined) return undefined;
  if (key.v === 4) return key.n === 0 ? undefined : formatIPv4(key.n);
  return /^0+$/.test(key.hex) ? undefined : formatIPv6Hex(key.hex);
}
