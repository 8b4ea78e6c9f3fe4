import {
  decodeRecord,
  emptyRecord,
  encodeRecord,
  type HttpRecord,
} from "../../src/sensor/wire/mod.ts";
import { opsPerSecond, ratio, report } from "./_measure.ts";

/** A realistic record: browser UA, headers, cookie, request id. */
export function sampleRecord(i: number): HttpRecord {
  return {
    ...emptyRecord(),
    req_type: 0,
    timestamp: 1_700_000_000 + (i >> 10),
    remote_ip: (0x0a000000 + (i % 65536)) >>> 0,
    geo: "US",
    method: "GET",
    url: `/catalog/item/${i % 5000}?ref=home`,
    version: "HTTP/1.1",
    referer: "https://example.com/",
    host: "example.com",
    accept: "text/html",
    accept_language: "en-US",
    accept_encoding: "gzip, deflate, br",
    cookie: "session=0123456789abcdef; theme=dark",
    http_user_agent:
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    request: `GET /catalog/item/${i % 5000}?ref=home HTTP/1.1`,
    qrator_request_id: `req${i}`,
    server_port: "443",
    remote_port: String(30000 + (i % 30000)),
    connection_requests: "1",
    msec: `${1_700_000_000 + (i >> 10)}.123`,
    ssl_cipher: "TLS_AES_128_GCM_SHA256",
    headers: "Accept: text/html\r\nAccept-Encoding: gzip, deflate, br\r\nConnection: keep-alive",
    request_length: "512",
  };
}

/** Decode throughput vs a plain copy of the same bytes (issue 3). */
export async function run(): Promise<void> {
  await Promise.resolve();
  const bodies = Array.from({ length: 4096 }, (_, i) => encodeRecord(sampleRecord(i)));
  const size = bodies.reduce((n, b) => n + b.length, 0) / bodies.length;
  const n = 500_000;
  let sink = 0;
  const decode = opsPerSecond(n, (i) => {
    const r = decodeRecord(bodies[i & 4095]!);
    if (r.ok) sink += r.record.status;
  });
  const copy = opsPerSecond(n, (i) => {
    const b = bodies[i & 4095]!;
    const c = new Uint8Array(b.length);
    c.set(b);
    sink += c[0]!;
  });
  const encode = opsPerSecond(100_000, (i) => {
    sink += encodeRecord(sampleRecord(i)).length;
  });
  console.log(`record body ${Math.round(size)} bytes (mean)`);
  report("decodeRecord", decode, "records/s");
  report("Uint8Array copy of the same bytes", copy, "copies/s");
  ratio("decode / copy", decode / copy);
  report("encodeRecord (incl. building the record)", encode, "records/s");
  report("decode MB/s", (decode * size) / 1e6, "MB/s");
  if (sink === -1) console.log(sink);
}

if (import.meta.main) await run();
