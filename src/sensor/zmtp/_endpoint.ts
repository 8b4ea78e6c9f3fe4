/**
 * ZeroMQ TCP endpoint strings: `tcp://host:port`, `tcp://[::1]:port`, `tcp://*:port` (bind).
 * @module
 */

/** A parsed `tcp://` endpoint. */
export interface Endpoint {
  /** Host name or address without brackets; `*` is already mapped to `0.0.0.0`. */
  hostname: string;
  /** TCP port; 0 on bind asks the kernel for a free one. */
  port: number;
}

/**
 * Parses a `tcp://` endpoint. `*` (any IPv4 interface) is only valid for bind, as in libzmq.
 * Throws TypeError naming the endpoint when it is not a tcp endpoint we can use.
 * @example
 * ```ts
 * parseEndpoint("tcp://[::1]:4100", "connect"); // { hostname: "::1", port: 4100 }
 * ```
 */
export function parseEndpoint(text: string, mode: "bind" | "connect"): Endpoint {
  const match = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/\[\]\s]+):(\d{1,5})$/.exec(text);
  if (!match) {
    throw new TypeError(`Cannot use endpoint "${text}": expected tcp://host:port`);
  }
  let hostname = match[1]!;
  const port = Number(match[2]);
  if (port > 65535 || (port === 0 && mode === "connect")) {
    throw new RangeError(`Cannot use endpoint "${text}": port ${port} is out of range`);
  }
  if (hostname.startsWith("[")) hostname = hostname.slice(1, -1);
  if (hostname === "*") {
    if (mode === "connect") {
      throw new TypeError(`Cannot connect to endpoint "${text}": "*" is only valid for bind`);
    }
    hostname = "0.0.0.0";
  }
  return { hostname, port };
}

/** Formats host and port back into an endpoint string, bracketing IPv6 addresses. */
export function formatEndpoint(hostname: string, port: number): string {
  return `tcp://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}
