import { parseIPv4 } from "../../../src/shared/net/ip.ts";
import { emptyRecord, type HttpRecord } from "../../../src/sensor/wire/record.ts";
import type { RequestContext } from "../../../src/sensor/filters/types.ts";

/** A record for tests: defaults plus the given fields; `ip` fills remote_ip or remote_addr. */
export function rec(fields: Partial<HttpRecord> & { ip?: string } = {}): HttpRecord {
  const { ip = "10.0.0.1", ...rest } = fields;
  const record: HttpRecord = { ...emptyRecord(), method: "GET", url: "/", host: "example.com" };
  const v4 = parseIPv4(ip);
  if (v4 === undefined) record.remote_addr = ip;
  else record.remote_ip = v4;
  return Object.assign(record, rest);
}

/** A fresh request context at `now` ms for the record's client. */
export function ctxFor(
  record: HttpRecord,
  now: number,
  phase: "first" | "response" = "first",
  flags: Record<string, boolean> = {},
): RequestContext & { events: string[] } {
  const ip = record.remote_addr ??
    [24, 16, 8, 0].map((s) => (record.remote_ip >>> s) & 255).join(".");
  return { domainId: 8984, ip, now, phase, flags: new Map(Object.entries(flags)), events: [] };
}
