import assert from "node:assert/strict";
import { ipKey, parseIPv6Hex } from "../../../src/shared/net/ip.ts";
import { IpSet } from "../../../src/shared/net/ip_set.ts";

Deno.test("parseIPv6Hex() expands ::, embedded IPv4 and zones", () => {
  assert.equal(parseIPv6Hex("::1"), "0".repeat(31) + "1");
  assert.equal(parseIPv6Hex("2001:db8::"), "20010db8" + "0".repeat(24));
  assert.equal(parseIPv6Hex("::ffff:1.2.3.4"), "00000000000000000000ffff01020304");
  assert.equal(parseIPv6Hex("fe80::1%eth0"), "fe80" + "0".repeat(27) + "1");
  assert.equal(parseIPv6Hex("1:2:3:4:5:6:7:8"), "00010002000300040005000600070008");
  for (const bad of ["1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "g::1", ":::"]) {
    assert.equal(parseIPv6Hex(bad), undefined, bad);
  }
});

Deno.test("ipKey() maps IPv4-mapped IPv6 to IPv4", () => {
  assert.deepEqual(ipKey("::ffff:10.0.0.1"), { v: 4, n: 0x0a000001 });
  assert.deepEqual(ipKey("10.0.0.1"), { v: 4, n: 0x0a000001 });
  assert.equal(ipKey("10.0.0.256"), undefined);
  assert.equal(ipKey("example.com"), undefined);
});

Deno.test("IpSet.has() matches IPv4 and IPv6 CIDR ranges at their edges", () => {
  const set = IpSet.from(
    ["10.0.0.0/8", "192.168.1.7", "# comment", "", "2001:db8::/32", "::1", "0.0.0.0/32"],
    (i) => `line ${i}`,
  );
  assert.equal(set.size, 5);
  assert.ok(set.has("10.0.0.0"));
  assert.ok(set.has("10.255.255.255"));
  assert.ok(!set.has("11.0.0.0"));
  assert.ok(!set.has("9.255.255.255"));
  assert.ok(set.has("192.168.1.7"));
  assert.ok(!set.has("192.168.1.8"));
  assert.ok(set.has("2001:db8:ffff::1"));
  assert.ok(!set.has("2001:db9::"));
  assert.ok(set.has("::1"));
  assert.ok(set.has("::ffff:10.1.2.3"));
  assert.ok(!set.has("not an ip"));
});

Deno.test("IpSet.from() merges overlapping ranges and handles /0", () => {
  const all = IpSet.from(["0.0.0.0/0", "::/0"], String);
  assert.ok(all.has("255.255.255.255"));
  assert.ok(all.has("ffff::1"));
  const merged = IpSet.from(["10.0.0.0/24", "10.0.0.128/25", "10.0.1.0/24"], String);
  assert.ok(merged.has("10.0.1.255"));
  assert.ok(!merged.has("10.0.2.0"));
});

Deno.test("IpSet.from() names the entry that is not an address", () => {
  assert.throws(() => IpSet.from(["1.2.3.4", "1.2.3.4/33"], (i) => `list.txt:${i + 1}`), {
    message: /list\.txt:2: "1\.2\.3\.4\/33" has an invalid prefix length/,
  });
  assert.throws(() => IpSet.from(["hello"], (i) => `entries[${i}]`), {
    message: /entries\[0\]: "hello" is not an IP address or CIDR/,
  });
});

Deno.test("IpSet handles one million IPv4 entries", () => {
  const entries: string[] = [];
  for (let i = 0; i < 1_000_000; i++) {
    entries.push(`${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}.${i % 2 === 0 ? 1 : 3}`);
  }
  const set = IpSet.from(entries, String);
  assert.equal(set.size, 1_000_000);
  assert.ok(set.has("15.66.62.1"));
  assert.ok(!set.has("15.66.62.2"));
  assert.ok(!set.has("15.66.64.1"));
});
