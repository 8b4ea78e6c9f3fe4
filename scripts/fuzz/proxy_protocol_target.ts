/**
 * Fuzz target: the PROXY protocol reader (`readProxyHeader`, v1 text and v2 binary) over a
 * `ConnIo` whose socket hands the input out in random chunks. Inputs are headers written by
 * `encodeProxyHeader` (v1, v2, LOCAL, UNKNOWN, with TLVs) and hand-made v1 lines, followed by
 * payload bytes, then mutated. Properties: only `ProxyProtocolError` is thrown; an accepted
 * header consumes at most the input, names addresses in their canonical text and ports in
 * 0..65535; an unmutated header reads back exactly the addresses written and leaves the payload
 * unread.
 * @module
 */

import {
  formatIPv4,
  formatIPv6Hex,
  type IpKey,
  ipKey,
  normalizeIp,
} from "../../src/shared/net/ip.ts";
import { ConnIo } from "../../src/sensor/proxy/conn_io.ts";
import {
  encodeProxyHeader,
  type ProxiedAddress,
  ProxyProtocolError,
  readProxyHeader,
} from "../../src/sensor/proxy/proxy_protocol.ts";
import { MemoryConn } from "./_memory_conn.ts";
import { concat, mutateBytes } from "./_mutate.ts";
import type { Rng } from "./_random.ts";
import { documentedError, type FuzzTarget, property } from "./_target.ts";

/** Selector bit: the header is as written (not mutated); the expected result is in `expected`. */
const PRISTINE = 0x01;
const ascii = new TextEncoder();

const V4 = ["192.0.2.1", "0.0.0.0", "255.255.255.255", "10.1.2.3", "127.0.0.1"];
const V6 = [
  "2001:db8::1",
  "::1",
  "::",
  "fe80::1:2:3:4",
  "2001:db8:0:0:1:0:0:1",
  "::ffff:192.0.2.9",
];
const ODD = [
  "01.2.3.4",
  "1.2.3",
  "1.2.3.4.5",
  "256.1.1.1",
  "fe80::1%eth0",
  "::ffff:1.2.3.4",
  "x",
  "",
];
const PORTS = ["0", "80", "65535", "65536", "-1", "080", "99999", "", "1e3"];

function address(rng: Rng, v6: boolean): string {
  if (!v6) return rng.chance(0.5) ? rng.pick(V4) : rng.bytes(4).join(".");
  if (rng.chance(0.5)) return rng.pick(V6);
  const words = Array.from({ length: 8 }, () => (rng.next() & 0xffff).toString(16));
  return words.join(":");
}

/** A header, its expected reading when unmutated, and payload after it. */
function header(rng: Rng): { bytes: Uint8Array; expected?: ProxiedAddress } {
  const kind = rng.below(6);
  if (kind === 0) {
    // A hand-made v1 line: odd addresses, ports and spacing.
    const fam = rng.pick(["TCP4", "TCP6", "UNKNOWN", "TCP5", "tcp4"]);
    const part = () => (rng.chance(0.6) ? address(rng, fam === "TCP6") : rng.pick(ODD));
    const port = () => (rng.chance(0.7) ? String(rng.below(65536)) : rng.pick(PORTS));
    const sep = rng.chance(0.9) ? " " : rng.pick(["  ", "\t", ""]);
    const line = ["PROXY", fam, part(), part(), port(), port()].join(sep);
    return { bytes: ascii.encode(line + (rng.chance(0.9) ? "\r\n" : rng.pick(["\n", "\r", ""]))) };
  }
  if (kind === 1) {
    return {
      bytes: rng.chance(0.5)
        ? ascii.encode("PROXY UNKNOWN\r\n")
        : encodeProxyHeader(2, { ip: "x", port: 0 }, { ip: "y", port: 0 }),
      expected: {},
    };
  }
  const v6 = rng.chance(0.4);
  const from = { ip: address(rng, v6), port: rng.below(65536) };
  const to = { ip: address(rng, v6 && rng.chance(0.8)), port: rng.below(65536) };
  const version = rng.chance(0.5) ? 1 : 2;
  let bytes = encodeProxyHeader(version, from, to);
  if (version === 2 && rng.chance(0.3)) {
    // TLVs after the addresses (ALPN, authority, …): counted in the length, skipped by readers.
    const tlv = rng.bytes(1 + rng.below(40));
    const len = bytes[14]! * 256 + bytes[15]! + tlv.length;
    bytes = concat([bytes, tlv]);
    bytes[14] = len >> 8;
    bytes[15] = len & 0xff;
  }
  // Both addresses in one family: IPv6 (IPv4 ones mapped) when either is IPv6.
  const keys = [ipKey(from.ip)!, ipKey(to.ip)!];
  const wide = keys.some((k) => k.v === 6);
  const text = (k: IpKey) =>
    k.v === 6
      ? formatIPv6Hex(k.hex)
      : wide
      ? normalizeIp(`::ffff:${formatIPv4(k.n)}`)!
      : formatIPv4(k.n);
  return {
    bytes,
    expected: {
      source: text(keys[0]!),
      destination: text(keys[1]!),
      sourcePort: from.port,
      destinationPort: to.port,
    },
  };
}

function canonical(a: ProxiedAddress): ProxiedAddress {
  return {
    ...(a.source === undefined ? {} : { source: normalizeIp(a.source) ?? `bad ${a.source}` }),
    ...(a.destination === undefined
      ? {}
      : { destination: normalizeIp(a.destination) ?? `bad ${a.destination}` }),
    ...(a.sourcePort === undefined ? {} : { sourcePort: a.sourcePort }),
    ...(a.destinationPort === undefined ? {} : { destinationPort: a.destinationPort }),
  };
}

/** The PROXY protocol target. */
export function proxyProtocolTarget(): FuzzTarget {
  const kinds: Record<string, number> = { pristine: 0, mutated: 0, accepted: 0, refused: 0 };
  const expected = new Map<Uint8Array, { result: ProxiedAddress; length: number }>();
  return {
    name: "proxy",
    kinds,
    generate(rng) {
      const h = header(rng);
      const payload = rng.bytes(rng.below(64));
      const pristine = h.expected !== undefined && rng.chance(0.3);
      const body = pristine
        ? concat([h.bytes, payload])
        : mutateBytes(concat([h.bytes, payload]), rng, 3);
      const input = concat([Uint8Array.of(pristine ? PRISTINE : 0), body]);
      if (pristine) expected.set(input, { result: h.expected!, length: h.bytes.length });
      return input;
    },
    async check(input) {
      const stream = input.subarray(1);
      const want = expected.get(input);
      expected.delete(input);
      kinds[want ? "pristine" : "mutated"]!++;
      const io = new ConnIo(new MemoryConn(stream) as unknown as Deno.Conn);
      let got: ProxiedAddress;
      try {
        got = await readProxyHeader(io);
      } catch (error) {
        if (!documentedError(error, [ProxyProtocolError])) throw error;
        property(want === undefined, () => `a header as written was refused: ${error}`);
        kinds.refused!++;
        return;
      }
      kinds.accepted!++;
      const consumed = io.bytesIn - io.buffered;
      property(
        consumed > 0 && consumed <= stream.length,
        `consumed ${consumed} of ${stream.length}`,
      );
      for (const ip of [got.source, got.destination]) {
        if (ip === undefined) continue;
        property(normalizeIp(ip) === ip, () => `address ${JSON.stringify(ip)} is not canonical`);
      }
      for (const port of [got.sourcePort, got.destinationPort]) {
        if (port === undefined) continue;
        property(Number.isInteger(port) && port >= 0 && port <= 65535, `port ${port}`);
      }
      if (want) {
        property(
          JSON.stringify(canonical(got)) === JSON.stringify(want.result),
          () => `read ${JSON.stringify(got)}, wrote ${JSON.stringify(want.result)}`,
        );
        property(consumed === want.length, `consumed ${consumed}, the header has ${want.length}`);
      }
    },
  };
}
