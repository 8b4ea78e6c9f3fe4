import type { IpSet } from "../../shared/net/ip_set.ts";
import { clientIp } from "../wire/client_ip.ts";
import { type HeaderField, headerValue } from "./http_head.ts";

/** Where a request's client address came from, and the chain as the proxy will forward it. */
export interface ClientAddress {
  /** The client's address (canonical text). */
  ip: string;
  /** `X-Forwarded-For` to send upstream: the trusted chain, then the peer. */
  forwardedFor: string;
  /** The header value the address was taken from, as received ("" when from the peer). */
  claimed: string;
}

// `for=192.0.2.1`, `for="[2001:db8::1]:4711"`, `for=unknown`.
function forwardedFor(value: string): string[] {
  const out: string[] = [];
  for (const element of value.split(",")) {
    for (const pair of element.split(";")) {
      const eq = pair.indexOf("=");
      if (eq < 0 || pair.slice(0, eq).trim().toLowerCase() !== "for") continue;
      let v = pair.slice(eq + 1).trim().replace(/^"|"$/g, "");
      const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(v);
      if (bracket) v = bracket[1]!;
      else if (/^[\d.]+:\d+$/.test(v)) v = v.slice(0, v.lastIndexOf(":"));
      out.push(v);
    }
  }
  return out;
}

/**
 * The client of a request that arrived from `peer`: X-Forwarded-For (or, without it, RFC 7239
 * Forwarded) is believed only when `peer` is a trusted proxy, and then only back to the first
 * address that is not itself trusted, read from the right (nginx's `real_ip_recursive on`): a
 * client can prepend anything to the header, but not after what our own proxies appended.
 * From an untrusted peer the headers are dropped, and the chain restarts at the peer.
 */
export function clientAddress(
  peer: string,
  headers: readonly HeaderField[],
  trusted: IpSet | undefined,
): ClientAddress {
  if (!trusted || !trusted.has(peer)) return { ip: peer, forwardedFor: peer, claimed: "" };
  const xff = headerValue(headers, "x-forwarded-for");
  const fwd = xff === undefined ? headerValue(headers, "forwarded") : undefined;
  const chain = xff !== undefined
    ? xff.split(",").map((s) => s.trim()).filter((s) => s !== "")
    : fwd !== undefined
    ? forwardedFor(fwd)
    : [];
  let ip = peer;
  for (let i = chain.length - 1; i >= 0; i--) {
    const hop = clientIp(chain[i]!);
    // Garbage in a trusted chain ends the walk: the last good address stands.
    if (hop === undefined) break;
    ip = hop;
    if (!trusted.has(hop)) break;
  }
  const kept = chain.map((s) => clientIp(s) ?? s);
  return {
    ip,
    forwardedFor: [...kept, peer].join(", "),
    claimed: xff ?? fwd ?? "",
  };
}
