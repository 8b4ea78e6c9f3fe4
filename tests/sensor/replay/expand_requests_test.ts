import assert from "node:assert/strict";
import { expandRequests } from "../../../src/sensor/replay/expand_requests.ts";
import { parseFixture } from "../../../src/sensor/replay/fixture.ts";
import { clientAddress } from "../../../src/sensor/wire/record.ts";

function expand(requests: string) {
  const f = parseFixture(`requests:\n${requests}\nexpect: { commands: [] }\n`, "f.yaml");
  return expandRequests(f.requests, 1000);
}

Deno.test("expandRequests() repeats from start + at, every seconds apart, with msec", () => {
  const out = expand("  - { at: 2, ip: 192.0.2.1, repeat: { count: 3, every: 0.25 } }");
  assert.deepEqual(out.map((o) => o.t), [1002, 1002.25, 1002.5]);
  assert.deepEqual(out.map((o) => o.record.msec), ["1002.000", "1002.250", "1002.500"]);
  assert.deepEqual(out.map((o) => o.record.timestamp), [1002, 1002, 1002]);
  const r = out[0]!.record;
  assert.deepEqual([r.method, r.url, r.version, r.host, r.status], [
    "GET",
    "/",
    "HTTP/1.1",
    "example.com",
    200,
  ]);
  assert.equal(out[0]!.domain, 8984);
});

Deno.test("expandRequests() generators: range skips network/broadcast, one_of cycles, format", () => {
  const out = expand(
    "  - at: 0\n    ip: { range: 203.0.113.0/30 }\n    user_agent: { one_of: [a, b, c] }\n" +
      '    url: { format: "/p/{i}" }\n    repeat: { count: 4, every: 1 }',
  );
  assert.deepEqual(out.map((o) => clientAddress(o.record)), [
    "203.0.113.1",
    "203.0.113.2",
    "203.0.113.1",
    "203.0.113.2",
  ]);
  assert.deepEqual(out.map((o) => o.record.http_user_agent), ["a", "b", "c", "a"]);
  assert.deepEqual(out.map((o) => o.record.url), ["/p/0", "/p/1", "/p/2", "/p/3"]);
});

Deno.test("expandRequests() carries IPv6 in remote_addr and numbers in numeric fields", () => {
  const out = expand(
    "  - { at: 0, ips: ['2001:db8::1', 192.0.2.9], status: 404, request_time: '15', " +
      "repeat: { count: 2 } }",
  );
  assert.equal(out[0]!.record.remote_addr, "2001:db8::1");
  assert.equal(out[0]!.record.remote_ip, 0);
  assert.equal(out[1]!.record.remote_addr, undefined);
  assert.equal(clientAddress(out[1]!.record), "192.0.2.9");
  assert.equal(out[0]!.record.status, 404);
  assert.equal(out[0]!.record.request_time, 15);
});

Deno.test("expandRequests() orders by time, keeping fixture order at equal times", () => {
  const out = expand(
    "  - { at: 5, ip: 192.0.2.1 }\n  - { at: 0, ip: 192.0.2.2, repeat: { count: 2, every: 5 } }\n" +
      "  - { at: 5, ip: 192.0.2.3 }",
  );
  assert.deepEqual(out.map((o) => [o.t - 1000, clientAddress(o.record)]), [
    [0, "192.0.2.2"],
    [5, "192.0.2.1"],
    [5, "192.0.2.2"],
    [5, "192.0.2.3"],
  ]);
});

Deno.test("expandRequests() walks IPv6 ranges and prints them in RFC 5952 form", () => {
  const out = expand(
    "  - { at: 0, ip: { range: '2001:db8:0:7::/64' }, repeat: { count: 2 } }\n" +
      "  - { at: 1, ip: { range: '2001:db8::5/128' } }",
  );
  assert.deepEqual(out.map((o) => o.record.remote_addr), [
    "2001:db8:0:7::1",
    "2001:db8:0:7::2",
    "2001:db8::5",
  ]);
});
