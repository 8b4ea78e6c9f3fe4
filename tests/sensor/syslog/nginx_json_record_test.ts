import assert from "node:assert/strict";
import {
  nginxJsonRecord,
  readNginxJsonLine,
} from "../../../src/sensor/syslog/nginx_json_record.ts";
import { syslogMessage } from "../../../src/sensor/syslog/syslog_input.ts";
import { parseCombinedLine } from "../../../src/sensor/replay/parse_combined_line.ts";
import { clientAddress } from "../../../src/sensor/wire/record.ts";

Deno.test("nginxJsonRecord() maps qts_json keys to a completed record", () => {
  const logged = nginxJsonRecord(JSON.stringify({
    msec: "1700000000.123",
    remote_addr: "203.0.113.9",
    domain: "8985",
    method: "POST",
    url: "/login?next=%2F",
    version: "HTTP/1.1",
    host: "shop.example",
    status: "403",
    body_bytes_sent: "153",
    request_time: "0.045",
    http_user_agent: "curl/8.5.0",
    upstream_durations: "0.040",
    unknown_extra: "ignored",
  }))!;
  assert.equal(logged.domain, 8985);
  const r = logged.record;
  assert.equal(r.req_type, 1);
  assert.equal(r.timestamp, 1700000000);
  assert.equal(r.msec, "1700000000.123");
  assert.equal(clientAddress(r), "203.0.113.9");
  assert.deepEqual([r.method, r.url, r.version, r.host, r.status], [
    "POST",
    "/login?next=%2F",
    "HTTP/1.1",
    "shop.example",
    403,
  ]);
  assert.equal(r.body_bytes_sent, 153);
  assert.equal(r.request_time, 45);
  assert.equal(r.upstream_durations, "0.040");
  assert.equal(r.request, "POST /login?next=%2F HTTP/1.1");
});

Deno.test("nginxJsonRecord() takes IPv6 into remote_addr and rejects lines it cannot use", () => {
  const v6 = nginxJsonRecord('{"msec":"1.5","remote_addr":"2001:db8::1","status":"-"}')!;
  assert.equal(v6.record.remote_addr, "2001:db8::1");
  assert.equal(v6.record.status, 0);
  assert.equal(v6.domain, undefined);
  assert.equal(nginxJsonRecord('{"remote_addr":"1.2.3.4"}'), undefined, "no time");
  assert.equal(nginxJsonRecord('{"msec":"1.5"}'), undefined, "no client");
  assert.equal(nginxJsonRecord("[1,2]"), undefined);
  assert.equal(nginxJsonRecord("{not json"), undefined);
});

Deno.test("readNginxJsonLine() names why a line is not a record", () => {
  assert.equal(readNginxJsonLine("{not json"), "bad_json");
  assert.equal(readNginxJsonLine("[1,2]"), "not_object");
  assert.equal(readNginxJsonLine('"text"'), "not_object");
  assert.equal(readNginxJsonLine('{"msec":"1.5"}'), "no_client");
  assert.equal(readNginxJsonLine('{"remote_addr":"1.2.3.4"}'), "no_time");
  assert.equal(readNginxJsonLine('{"remote_addr":"1.2.3.4","msec":"soon"}'), "no_time");
  const ok = readNginxJsonLine('{"remote_addr":"1.2.3.4","msec":"1.5"}');
  assert.equal(typeof ok === "object" && ok.record.msec, "1.5");
});

Deno.test("syslogMessage() strips the RFC 3164 header nginx puts before the JSON", () => {
  assert.equal(syslogMessage('<190>Nov 26 12:00:00 qts: {"a":1}\n'), '{"a":1}');
  assert.equal(syslogMessage('<190>Nov 26 12:00:00 web1 qts: {"a":{"b":2}}'), '{"a":{"b":2}}');
  assert.equal(syslogMessage("<190>Nov 26 12:00:00 qts: plain text"), undefined);
});

Deno.test("parseCombinedLine() reads the combined format with time zone and escapes", () => {
  const r = parseCombinedLine(
    '198.51.100.9 - bob [14/Nov/2023:23:13:25 +0100] "GET /a?b=\\x22c\\x22 HTTP/1.1" 404 153 ' +
      '"http://example.com/" "Mozilla/5.0 \\x22quoted\\x22" "extra-field"',
  )!;
  assert.equal(r.timestamp, 1700000005);
  assert.equal(r.msec, "1700000005.000");
  assert.equal(clientAddress(r), "198.51.100.9");
  assert.deepEqual([r.method, r.url, r.version], ["GET", '/a?b="c"', "HTTP/1.1"]);
  assert.equal(r.status, 404);
  assert.equal(r.body_bytes_sent, 153);
  assert.equal(r.referer, "http://example.com/");
  assert.equal(r.http_user_agent, 'Mozilla/5.0 "quoted"');
  const dash = parseCombinedLine('2001:db8::7 - - [14/Nov/2023:22:13:30 +0000] "-" 400 - "-" "-"')!;
  assert.equal(dash.remote_addr, "2001:db8::7");
  assert.equal(dash.method, "");
  assert.equal(dash.body_bytes_sent, 0);
  assert.equal(dash.http_user_agent, "");
  assert.equal(parseCombinedLine("not a log line"), undefined);
  assert.equal(
    parseCombinedLine('x - - [14/Nov/2023:22:13:30 +0000] "GET / HTTP/1.1" 200 1 "-" "-"'),
    undefined,
  );
});
