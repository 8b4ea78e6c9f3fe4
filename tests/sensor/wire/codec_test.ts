import assert from "node:assert/strict";
import {
  clientAddress,
  decodeHeader,
  decodeRecord,
  emptyRecord,
  encodeHeader,
  encodeRecord,
  encodeRecordInto,
  FIXED_FIELDS,
  FIXED_SIZE,
  type HttpRecord,
  TAIL_FIELDS,
  toPlainRecord,
} from "../../../src/sensor/wire/mod.ts";
import { seededRandom } from "../../_support/random.ts";

function sample(): HttpRecord {
  return {
    ...emptyRecord(),
    req_type: 1,
    timestamp: 1670368996,
    remote_ip: (198 << 24 | 51 << 16 | 100 << 8 | 1) >>> 0,
    request_time: 60150,
    response_time: 60100,
    last_response_time: 100,
    n_responses: 3,
    status: 200,
    body_bytes_sent: 12345,
    failed_servers: 0xfedcba9876543210n,
    responded_server: -3,
    geo: "US",
    method: "GET",
    url: "/page.html",
    version: "HTTP/1.1",
    referer: "https://example.com/",
    host: "example.com",
    accept: "text/html",
    accept_language: "ru-RU",
    accept_encoding: "deflate, gzip",
    forwarded_for: "203.0.113.1",
    cookie: "name=value; name2=value2",
    http_user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:10.0) Gecko/20100101 Firefox/10.0",
    http_x_requested_with: "XMLHttpRequest",
    upstream_addr: "203.0.113.3",
    upstream_statuses: "504, 504, 200",
    upstream_durations: "30000, 30000, 100",
    request: "GET / HTTP/1.1",
    qrator_request_id: "abcd1234",
    server_port: "443",
    remote_port: "12345",
    connection_requests: "1",
    msec: "1670368996.6454",
    ssl_cipher: "ECDHE-RSA-AES256-GCM-SHA384",
    ssl_ciphers: "0xc030:0xc02c",
    reserved_a: 7,
    reserved_b: 8,
    sent_http_location: "https://www.example.com/",
    sent_http_content_type: "text/html; charset=utf-8",
    headers: "Accept: */*\r\nAccept-Encoding: gzip, deflate",
    body: "Hello. Привет",
    reserved_c: 9,
    request_length: "6",
    bytes_sent: "12345",
    upstream_bytes_sent: "12345",
    upstream_bytes_received: "12345",
  };
}

function decoded(bytes: Uint8Array): HttpRecord {
  const result = decodeRecord(bytes);
  if (!result.ok) throw new Error(`unexpected rejection ${result.reason}: ${result.detail}`);
  return toPlainRecord(result.record);
}

Deno.test("FIXED_FIELDS adds up to the 488-byte fixed part", () => {
  assert.equal(FIXED_FIELDS.reduce((sum, [, , size]) => sum + size, 0), FIXED_SIZE);
});

Deno.test("encodeRecord() places fixed fields at their seed offsets", () => {
  const bytes = encodeRecord(sample());
  const view = new DataView(bytes.buffer);
  assert.equal(view.getUint32(0, true), 1);
  assert.equal(view.getUint32(4, true), 1670368996);
  assert.deepEqual([...bytes.subarray(8, 12)], [198, 51, 100, 1]);
  assert.equal(view.getUint16(28, true), 3);
  assert.equal(view.getUint16(30, true), 200);
  assert.equal(view.getBigUint64(40, true), 0xfedcba9876543210n);
  assert.equal(view.getInt8(48), -3);
  assert.equal(new TextDecoder().decode(bytes.subarray(49, 51)), "US");
  assert.equal(new TextDecoder().decode(bytes.subarray(51, 54)), "GET");
  assert.equal(bytes[54], 0);
  assert.equal(view.getUint32(488, true), sample().http_user_agent.length);
});

Deno.test("decodeRecord() round-trips every field of a full record", () => {
  const record = sample();
  assert.deepEqual(decoded(encodeRecord(record)), record);
  assert.equal(clientAddress(record), "198.51.100.1");
});

Deno.test("decodeRecord() keeps char[N] values that fill the field without a NUL", () => {
  const record = {
    ...sample(),
    geo: "RU",
    method: "PROPFIND",
    version: "HTTP/1.10",
    url: "/" + "a".repeat(131),
    host: "h".repeat(32),
    cookie: "c".repeat(128),
  };
  const back = decoded(encodeRecord(record));
  assert.equal(back.method, "PROPFIND");
  assert.equal(back.url.length, 132);
  assert.equal(back.host, "h".repeat(32));
  assert.deepEqual(back, record);
});

Deno.test("encodeRecord() cuts an over-long char[N] value at N bytes", () => {
  const back = decoded(encodeRecord({ ...sample(), geo: "USA", host: "x".repeat(40) }));
  assert.equal(back.geo, "US");
  assert.equal(back.host, "x".repeat(32));
});

Deno.test("decodeRecord() carries the remote_addr extension for IPv6 clients", () => {
  const record = { ...sample(), remote_addr: "2001:db8::1" };
  const back = decoded(encodeRecord(record));
  assert.equal(back.remote_addr, "2001:db8::1");
  assert.equal(clientAddress(back), "2001:db8::1");
});

Deno.test("decodeRecord() accepts the smallest body: fixed part and empty strings", () => {
  const bytes = encodeRecord(emptyRecord());
  assert.equal(bytes.length, FIXED_SIZE + 4 * TAIL_FIELDS.length);
  assert.deepEqual(decoded(bytes), emptyRecord());
});

Deno.test("decodeRecord() rejects a body shorter than the fixed part as short_body", () => {
  for (const size of [0, 3, FIXED_SIZE - 1]) {
    const result = decodeRecord(new Uint8Array(size));
    assert.equal(result.ok, false);
    if (!result.ok) assert.equal(result.reason, "short_body");
  }
});

Deno.test("decodeRecord() rejects a body cut inside the string fields as short_body", () => {
  const bytes = encodeRecord(emptyRecord());
  const result = decodeRecord(bytes.subarray(0, bytes.length - 2));
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(result.reason, "short_body");
    assert.match(result.detail, /upstream_bytes_received/);
  }
});

Deno.test("decodeRecord() rejects a length prefix past the end as bad_length", () => {
  const bytes = encodeRecord(sample());
  new DataView(bytes.buffer).setUint32(FIXED_SIZE, 0xffffffff, true);
  const result = decodeRecord(bytes);
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(result.reason, "bad_length");
    assert.match(result.detail, /http_user_agent.*byte 488/);
  }
});

Deno.test("decodeRecord() rejects invalid UTF-8 as bad_utf8 naming the field", () => {
  const bytes = encodeRecord({ ...sample(), host: "ab" });
  bytes[264] = 0xff;
  const result = decodeRecord(bytes);
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(result.reason, "bad_utf8");
    assert.match(result.detail, /"host"/);
  }
});

Deno.test("decodeRecord() drops a character cut by the end of a full char[N] field", () => {
  // 31 ASCII bytes + the first byte of "Ж" (2 bytes): what strncpy into char[32] leaves.
  const back = decodeRecord(encodeRecord({ ...emptyRecord(), host: "h".repeat(31) + "Ж" }));
  assert.ok(back.ok);
  if (back.ok) assert.equal(back.record.host, "h".repeat(31));
  // The same bytes in a field that is not full are not a cut: rejected.
  const bytes = encodeRecord({ ...emptyRecord(), host: "hh" });
  bytes[264 + 2] = 0xd0;
  const short = decodeRecord(bytes);
  assert.equal(short.ok, false);
  // A bad byte in the middle of a full field is still bad.
  const middle = encodeRecord({ ...emptyRecord(), host: "h".repeat(32) });
  middle[264 + 5] = 0xff;
  assert.equal(decodeRecord(middle).ok, false);
});

Deno.test("decodeRecord() rejects invalid UTF-8 in a long string field", () => {
  const record = { ...emptyRecord(), http_user_agent: "x".repeat(40) };
  const bytes = encodeRecord(record);
  bytes[FIXED_SIZE + 4 + 30] = 0xc3;
  bytes[FIXED_SIZE + 4 + 31] = 0x28;
  const result = decodeRecord(bytes);
  assert.equal(result.ok, false);
  if (!result.ok) assert.equal(result.reason, "bad_utf8");
});

Deno.test("decodeRecord() rejects 1 to 3 stray bytes after the last field as trailing_bytes", () => {
  for (const extra of [1, 2, 3]) {
    const body = encodeRecord(emptyRecord());
    const bytes = new Uint8Array(body.length + extra);
    bytes.set(body);
    const result = decodeRecord(bytes);
    assert.equal(result.ok, false);
    if (!result.ok) assert.equal(result.reason, "trailing_bytes");
  }
});

Deno.test("decodeRecord() rejects bytes after the remote_addr extension as trailing_bytes", () => {
  const body = encodeRecord({ ...emptyRecord(), remote_addr: "::1" });
  const bytes = new Uint8Array(body.length + 5);
  bytes.set(body);
  const result = decodeRecord(bytes);
  assert.equal(result.ok, false);
  if (!result.ok) assert.equal(result.reason, "trailing_bytes");
});

Deno.test("decodeRecord() rejects an extension length past the end as bad_length", () => {
  const body = encodeRecord(emptyRecord());
  const bytes = new Uint8Array(body.length + 6);
  bytes.set(body);
  new DataView(bytes.buffer).setUint32(body.length, 100, true);
  const result = decodeRecord(bytes);
  assert.equal(result.ok, false);
  if (!result.ok) assert.equal(result.reason, "bad_length");
});

Deno.test("decodeRecord() rejects a body over maxBytes as oversized", () => {
  const result = decodeRecord(new Uint8Array(2000), { maxBytes: 1000 });
  assert.equal(result.ok, false);
  if (!result.ok) assert.equal(result.reason, "oversized");
});

Deno.test("decodeRecord() reads a body that is a view into a larger buffer", () => {
  const body = encodeRecord(sample());
  const big = new Uint8Array(body.length + 100);
  big.set(body, 37);
  assert.deepEqual(decoded(big.subarray(37, 37 + body.length)), sample());
});

Deno.test("decodeHeader() accepts http:<id>: with or without the trailing colon", () => {
  const enc = new TextEncoder();
  assert.equal(decodeHeader(enc.encode("http:8984:")), 8984);
  assert.equal(decodeHeader(enc.encode("http:8984")), 8984);
  assert.equal(decodeHeader(encodeHeader(42)), 42);
  assert.equal(decodeHeader(enc.encode("http:4294967295:")), 4294967295);
  assert.equal(decodeHeader(enc.encode("http:0007")), 7);
  for (
    const bad of [
      "",
      "http:",
      "http::",
      "https:1:",
      "http:-1:",
      "http:1:2",
      "http:99999999999:",
      "http:4294967296:",
      "http:1::",
      "http:12\n",
      "HTTP:1:",
      "http: 1:",
    ]
  ) {
    assert.equal(decodeHeader(enc.encode(bad)), undefined, bad);
  }
});

function randomString(rand: () => number, maxLength: number): string {
  const alphabet = ["a", "Z", "0", " ", "/", "é", "Ж", "😀", "\u0001", ":", "%"];
  let s = "";
  const length = Math.floor(rand() * maxLength);
  for (let i = 0; i < length; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
  return s;
}

function randomRecord(rand: () => number): HttpRecord {
  const record = emptyRecord() as unknown as Record<string, unknown>;
  for (const [name, kind, size] of FIXED_FIELDS) {
    if (kind === "char") {
      // Keep to whole characters within N bytes, since the codec cuts at bytes.
      let value = randomString(rand, size);
      while (new TextEncoder().encode(value).length > size) {
        value = Array.from(value).slice(0, -1).join("");
      }
      record[name] = value.replace(/\0/g, "");
    } else if (kind === "u64") {
      record[name] = BigInt(Math.floor(rand() * 2 ** 32)) << 32n |
        BigInt(Math.floor(rand() * 2 ** 32));
    } else if (kind === "i8") record[name] = Math.floor(rand() * 256) - 128;
    else if (kind === "u16") record[name] = Math.floor(rand() * 65536);
    else record[name] = Math.floor(rand() * 2 ** 32);
  }
  for (const [name, kind] of TAIL_FIELDS) {
    record[name] = kind === "u32" ? Math.floor(rand() * 2 ** 32) : randomString(rand, 300);
  }
  if (rand() < 0.5) record.remote_addr = "2001:db8::" + Math.floor(rand() * 65535).toString(16);
  return record as unknown as HttpRecord;
}

Deno.test("decodeRecord() round-trips 2,000 random records (seed 1)", () => {
  const rand = seededRandom(1);
  for (let i = 0; i < 2000; i++) {
    const record = randomRecord(rand);
    assert.deepEqual(decoded(encodeRecord(record)), record);
  }
});

Deno.test("decodeRecord() records read fields lazily and agree with a plain copy", () => {
  const result = decodeRecord(encodeRecord({ ...sample(), remote_addr: "::1" }));
  assert.ok(result.ok);
  if (!result.ok) return;
  assert.equal(result.record.host, "example.com");
  assert.equal(result.record.host, "example.com");
  assert.equal(result.record.body, "Hello. Привет");
  assert.equal(result.record.remote_addr, "::1");
  assert.deepEqual(JSON.parse(JSON.stringify(result.record)).url, "/page.html");
  const plain = { ...emptyRecord() };
  const empty = decodeRecord(encodeRecord(plain));
  assert.ok(empty.ok && empty.record.remote_addr === undefined);
});

Deno.test("decodeRecord() never throws on 100k random byte strings (seed 2)", () => {
  const rand = seededRandom(2);
  const base = encodeRecord(sample());
  const reasons = new Map<string, number>();
  for (let i = 0; i < 100_000; i++) {
    let bytes: Uint8Array;
    if (i % 2 === 0) {
      bytes = new Uint8Array(Math.floor(rand() * 1200));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(rand() * 256);
    } else {
      // Mutations of a valid body reach deeper into the parser than pure noise does.
      bytes = base.slice(0, Math.floor(rand() * (base.length + 8)));
      for (let k = 0; k < 4; k++) {
        bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      }
    }
    const result = decodeRecord(bytes);
    const key = result.ok ? "ok" : result.reason;
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
  }
  for (const reason of ["short_body", "bad_length", "ok"]) {
    assert.ok((reasons.get(reason) ?? 0) > 0, `no input ended as ${reason}`);
  }
});

Deno.test("encodeRecordInto() writes encodeRecord()'s bytes at an offset of a reused buffer", () => {
  const records = [
    sample(),
    { ...emptyRecord(), url: "/é".repeat(100), remote_addr: "2001:db8::1", responded_server: -1 },
    emptyRecord(),
  ];
  const buffer = new Uint8Array(8192).fill(0xaa); // dirty: a reused batch buffer
  let at = 5;
  for (const record of records) {
    const want = encodeRecord(record);
    const end = encodeRecordInto(record, buffer, at);
    assert.equal(end, at + want.length);
    assert.deepEqual(buffer.subarray(at, end), want);
    at = end;
  }
  assert.equal(buffer[at], 0xaa, "nothing written past the last body");
});

Deno.test("encodeRecordInto() returns -1 and writes nothing when the body does not fit", () => {
  const record = sample();
  const size = encodeRecord(record).length;
  const buffer = new Uint8Array(size + 9).fill(7);
  assert.equal(encodeRecordInto(record, buffer, 10), -1);
  assert.ok(buffer.every((b) => b === 7));
  assert.equal(encodeRecordInto(record, buffer, 9), size + 9);
});
