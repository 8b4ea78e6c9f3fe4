import assert from "node:assert/strict";
import { clientIp, decodeRecord, emptyRecord, encodeRecord } from "../../../src/sensor/wire/mod.ts";

/** The four `remote_addr` values of issue 17.4 that were published as `add`. */
const HOSTILE_ADDRS = ["not-an-ip", "1.2.3.4; nft flush ruleset", "10.0.0.1\n", "::"];

function withAddr(remote_addr: string): Uint8Array {
  return encodeRecord({ ...emptyRecord(), method: "GET", url: "/", remote_addr });
}

Deno.test("decodeRecord() rejects a remote_addr that is not a client address (issue 17.4)", () => {
  for (const addr of [...HOSTILE_ADDRS, "0.0.0.0", "1.2.3.4.5", "fe80::1::2", " 1.2.3.4"]) {
    const result = decodeRecord(withAddr(addr));
    assert.equal(result.ok, false, JSON.stringify(addr));
    if (result.ok) continue;
    assert.equal(result.reason, "bad_remote_addr");
    assert.match(result.detail, /remote_addr/);
    // The detail is quoted JSON: a newline in the value cannot forge a log line.
    assert.ok(!result.detail.includes("\n"));
  }
});

Deno.test("decodeRecord() normalises remote_addr to its canonical spelling", () => {
  const cases: [string, string][] = [
    ["2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["[2001:db8::1]", "2001:db8::1"],
    ["fe80::1%eth0", "fe80::1"],
    ["::ffff:192.0.2.7", "192.0.2.7"],
    ["::1", "::1"],
    ["192.0.2.7", "192.0.2.7"],
  ];
  for (const [sent, canonical] of cases) {
    const result = decodeRecord(withAddr(sent));
    assert.ok(result.ok, sent);
    assert.equal(result.record.remote_addr, canonical, sent);
  }
});

Deno.test("decodeRecord() leaves a record without remote_addr to remote_ip", () => {
  const result = decodeRecord(encodeRecord({ ...emptyRecord(), remote_ip: 0xc0000207 }));
  assert.ok(result.ok);
  assert.equal(result.record.remote_addr, undefined);
});

Deno.test("clientIp() refuses the unspecified addresses and text around an address", () => {
  assert.equal(clientIp("::"), undefined);
  assert.equal(clientIp("0:0:0:0:0:0:0:0"), undefined);
  assert.equal(clientIp("0.0.0.0"), undefined);
  assert.equal(clientIp("1.2.3.4 "), undefined);
  assert.equal(clientIp("2001:DB8::A"), "2001:db8::a");
});
