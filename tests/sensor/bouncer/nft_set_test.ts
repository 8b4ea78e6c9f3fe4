import assert from "node:assert/strict";
import { ipFamily, parseNftTarget } from "../../../src/sensor/bouncer/nft_set.ts";
import { bouncerCommand } from "../../../src/commands/bouncer_command.ts";

Deno.test("parseNftTarget() reads family/table/set and names the bad part", () => {
  assert.deepEqual(parseNftTarget("inet/qts/qts_bans"), {
    family: "inet",
    table: "qts",
    set: "qts_bans",
  });
  assert.throws(() => parseNftTarget("inet/qts"), /is not family\/table\/set/);
  assert.throws(() => parseNftTarget("arp/qts/s"), /family "arp"/);
  assert.throws(() => parseNftTarget("inet/q ts/s"), /table "q ts"/);
  assert.throws(() => parseNftTarget("inet/qts/s;drop"), /set "s;drop"/);
});

Deno.test("ipFamily() accepts only addresses and networks, so nothing else reaches nft", () => {
  assert.equal(ipFamily("192.0.2.1"), 4);
  assert.equal(ipFamily("2001:db8::1"), 6);
  assert.equal(ipFamily("::ffff:192.0.2.1"), 6);
  assert.equal(ipFamily("192.0.2.1 }; flush ruleset; {"), undefined);
  assert.equal(ipFamily("fe80::1%eth0"), undefined);
  assert.equal(ipFamily("[2001:db8::1]"), undefined);
  assert.equal(ipFamily(""), undefined);
  assert.equal(ipFamily("2001:db8:a:b::/64"), 6);
  assert.equal(ipFamily("198.51.100.0/24"), 4);
  assert.equal(ipFamily("198.51.100.0/33"), undefined);
  assert.equal(ipFamily("2001:db8::/129"), undefined);
  assert.equal(ipFamily("2001:db8::/64 }; flush ruleset; {"), undefined);
  assert.equal(ipFamily("2001:db8::/"), undefined);
});

Deno.test("bouncerCommand() validates its options before touching nftables", async () => {
  const { log, error } = console;
  const out: string[] = [];
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => out.push(a.join(" "));
  try {
    assert.equal(await bouncerCommand(["--help"]), 0);
    assert.equal(await bouncerCommand(["--nft", "inet/qts"]), 2);
    assert.equal(await bouncerCommand(["--from", "udp://1.2.3.4:1"]), 2);
    assert.equal(await bouncerCommand(["--netns", "a b"]), 2);
    assert.equal(await bouncerCommand(["--bogus"]), 2);
    assert.equal(await bouncerCommand(["--resync=-1"]), 2);
    assert.equal(await bouncerCommand(["--resync", "soon"]), 2);
    assert.equal(await bouncerCommand(["--metrics", "9101"]), 2);
    assert.equal(await bouncerCommand(["--metrics", "127.0.0.1:70000"]), 2);
  } finally {
    console.log = log;
    console.error = error;
  }
  assert.match(out[0]!, /^Usage: qts bouncer/);
  assert.ok(out.some((l) => /--from "udp:\/\/1\.2\.3\.4:1" is not a tcp/.test(l)));
  assert.match(out[0]!, /--resync <seconds>/);
  assert.match(out[0]!, /--metrics <host:port>/);
  assert.ok(out.some((l) => /--resync "-1" is not a number of seconds/.test(l)));
  assert.ok(out.some((l) => /--metrics "9101" is not host:port/.test(l)));
});
