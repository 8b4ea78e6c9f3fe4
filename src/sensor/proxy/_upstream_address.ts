import { splitHost } from "../../shared/http/request_checks.ts";
import { parseIPv6Hex } from "../../shared/net/ip.ts";

/** An upstream's `host:port` (`[v6]:port`) split for `Deno.connect`: no brackets in `hostname`. */
export interface UpstreamAddress {
  hostname: string;
  port: number;
}

const NAME = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

/**
 * Parses `host:port` or `[IPv6]:port`; throws a TypeError saying what is wrong (the caller adds
 * where). A name is not resolved here: `Deno.connect` resolves it at each connection.
 */
export function parseUpstreamAddress(text: string): UpstreamAddress {
  const { name, port } = splitHost(text);
  if (port === undefined) {
    throw new TypeError(`"${text}" has no port (expected host:port or [v6]:port)`);
  }
  if (port < 1 || port > 65535) throw new TypeError(`port ${port} in "${text}" is out of range`);
  if (name.startsWith("[")) {
    const inner = name.slice(1, -1);
    if (parseIPv6Hex(inner) === undefined || inner.includes("%")) {
      throw new TypeError(`"${inner}" in "${text}" is not an IPv6 address`);
    }
    return { hostname: inner, port };
  }
  if (!NAME.test(name)) throw new TypeError(`"${name}" in "${text}" is not a host name or IPv4`);
  return { hostname: name, port };
}
