import { formatAddress } from "../../shared/net/ip.ts";
import { parseIPv6Hex } from "../../shared/net/ip.ts";
import { parseIPv4 } from "../../shared/net/ip.ts";
import { emptyRecord, type HttpRecord } from "../wire/record.ts";
import type { RequestSpec, ValueSpec } from "./fixture.ts";

/** One record to replay, with its domain and event time in seconds. */
export interface TimedRecord {
  domain: number;
  /** Unix seconds (fractional). */
  t: number;
  record: HttpRecord;
}

/** The base record of a fixture request: `GET / HTTP/1.1` to example.com, answered 200. */
export function baseRecord(): HttpRecord {
  return {
    ...emptyRecord(),
    method: "GET",
    url: "/",
    version: "HTTP/1.1",
    host: "example.com",
    status: 200,
  };
}

/** Puts the client address into a record: `remote_ip` for IPv4, `remote_addr` for IPv6. */
export function setClient(record: HttpRecord, ip: string): void {
  const v4 = parseIPv4(ip);
  if (v4 !== undefined) {
    record.remote_ip = v4;
    delete record.remote_addr;
  } else {
    record.remote_ip = 0;
    record.remote_addr = ip;
  }
}

/** Puts event time into a record: `timestamp` (whole seconds) and `msec` (nginx's `$msec`). */
export function setTime(record: HttpRecord, t: number): void {
  record.timestamp = Math.floor(t);
  record.msec = t.toFixed(3);
}

function rangeAddress(cidr: string, i: number): string {
  const [addr, bitsText] = cidr.split("/") as [string, string];
  const bits = Number(bitsText);
  const v4 = parseIPv4(addr);
  if (v4 !== undefined) {
    const size = 2 ** (32 - bits);
    const base = v4 - (v4 % size);
    // Skip the network and broadcast addresses of ranges that have them, as real clients do.
    const hosts = size > 2 ? size - 2 : size;
    const n = base + (size > 2 ? 1 : 0) + (i % hosts);
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  const hex = parseIPv6Hex(addr)!;
  const hostBits = Math.min(32, 128 - bits);
  const size = 2 ** hostBits;
  const low = parseInt(hex.slice(24), 16);
  const base = low - (low % size);
  // Skip the all-zero (subnet-router anycast) address of ranges larger than two addresses.
  const n = size > 2 ? base + 1 + (i % (size - 1)) : base + (i % size);
  const words = [0, 8, 16].map((o) => parseInt(hex.slice(o, o + 8), 16)).concat(n >>> 0);
  return formatAddress(words, 6);
}

function valueAt(spec: ValueSpec, i: number): string | number {
  if (typeof spec !== "object") return spec;
  if ("one_of" in spec) return spec.one_of[i % spec.one_of.length]!;
  if ("range" in spec) return rangeAddress(spec.range, i);
  return spec.format.replaceAll("{i}", String(i));
}

function assign(record: HttpRecord, field: string, value: string | number, where: string): void {
  const target = record as unknown as Record<string, unknown>;
  const kind = typeof target[field];
  if (kind === "bigint") target[field] = BigInt(value);
  else if (kind === "number") {
    const n = Number(value);
    if (!Number.isFinite(n)) {
      throw new TypeError(`${where}: ${field} needs a number, got "${value}"`);
    }
    target[field] = n;
  } else target[field] = String(value);
}

/**
 * Expands a fixture's `requests:` into records in time order: each entry `repeat.count` times,
 * `repeat.every` seconds apart from `start + at`; generators take the repeat index (`one_of`
 * cycles through its values, `range` walks the addresses of a CIDR, `format` puts the index in
 * for `{i}`). Entries at the same instant keep fixture order.
 */
export function expandRequests(specs: readonly RequestSpec[], start: number): TimedRecord[] {
  const out: { t: number; order: number; item: TimedRecord }[] = [];
  let order = 0;
  for (const spec of specs) {
    for (let i = 0; i < spec.repeat.count; i++) {
      const t = start + spec.at + i * spec.repeat.every;
      const record = baseRecord();
      for (const [field, value] of spec.fields) {
        if (field === "ip") setClient(record, String(valueAt(value, i)));
        else assign(record, field, valueAt(value, i), spec.path);
      }
      setTime(record, Math.round(t * 1000) / 1000);
      out.push({ t, order: order++, item: { domain: spec.domain, t, record } });
    }
  }
  out.sort((a, b) => a.t - b.t || a.order - b.order);
  return out.map((o) => o.item);
}
