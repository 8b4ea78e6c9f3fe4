import assert from "node:assert/strict";
import { BanState } from "../../../src/sensor/bouncer/ban_state.ts";
import { elementKey } from "../../../src/sensor/bouncer/nft_set.ts";

const FIXED = "tsng.fixed_lists";
const RATE = "tsng.location_rate";
const DAY = 86_400_000;
const HOUR = 3_600_000;

Deno.test("BanState.element() is the latest expiry of the IP's active bans across rules", () => {
  const state = new BanState();
  const x = state.set({ domainId: 8984, ruleName: FIXED, ip: "192.0.2.1", expiresAt: DAY })!;
  state.set({ domainId: 8984, ruleName: RATE, ip: "192.0.2.1", expiresAt: HOUR });
  // A shorter ban of another rule does not shorten the element.
  assert.deepEqual(state.element(x, 0), { ip: "192.0.2.1", expiresAt: DAY });
  assert.equal(state.size, 2);
  assert.equal(state.elements, 1);
  // Removing the shorter ban keeps the longer; removing the longer leaves the shorter.
  state.delete(8984, RATE, "192.0.2.1");
  assert.deepEqual(state.element(x, 0), { ip: "192.0.2.1", expiresAt: DAY });
  state.set({ domainId: 8984, ruleName: RATE, ip: "192.0.2.1", expiresAt: HOUR });
  state.delete(8984, FIXED, "192.0.2.1");
  assert.deepEqual(state.element(x, 0), { ip: "192.0.2.1", expiresAt: HOUR });
  // The last ban gone: no element.
  state.delete(8984, RATE, "192.0.2.1");
  assert.equal(state.element(x, 0), undefined);
  assert.equal(state.size, 0);
});

Deno.test("BanState keys bans by (domain, rule, IP): another domain's ban is its own", () => {
  const state = new BanState();
  const x = state.set({ domainId: 1, ruleName: FIXED, ip: "192.0.2.1", expiresAt: DAY })!;
  state.set({ domainId: 2, ruleName: FIXED, ip: "192.0.2.1", expiresAt: HOUR });
  state.delete(1, FIXED, "192.0.2.1");
  assert.deepEqual(state.element(x, 0), { ip: "192.0.2.1", expiresAt: HOUR });
  // A repeated add of one key replaces its expiry, it does not add a second ban.
  state.set({ domainId: 2, ruleName: FIXED, ip: "192.0.2.1", expiresAt: 2 * HOUR });
  assert.equal(state.size, 1);
  assert.deepEqual(state.element(x, 0), { ip: "192.0.2.1", expiresAt: 2 * HOUR });
});

Deno.test("BanState.element() drops expired bans: after the shorter ends the longer holds", () => {
  const state = new BanState();
  const x = state.set({ domainId: 1, ruleName: FIXED, ip: "2001:db8::1", expiresAt: DAY })!;
  state.set({ domainId: 1, ruleName: RATE, ip: "2001:DB8::1", expiresAt: HOUR });
  assert.equal(state.elements, 1, "one element whatever the spelling of the address");
  assert.deepEqual(state.element(x, HOUR + 1), { ip: "2001:db8::1", expiresAt: DAY });
  assert.equal(state.size, 1);
  assert.deepEqual(state.list(HOUR + 1).map((b) => b.ruleName), [FIXED]);
  assert.equal(state.element(x, DAY), undefined);
  assert.equal(state.elements, 0);
});

Deno.test("BanState.wanted() is the same for streamed and replaced bans", () => {
  const bans = [
    { domainId: 1, ruleName: FIXED, ip: "192.0.2.1", expiresAt: DAY },
    { domainId: 1, ruleName: RATE, ip: "192.0.2.1", expiresAt: HOUR },
    { domainId: 1, ruleName: RATE, ip: "2001:db8:a:b::/64", expiresAt: HOUR },
    { domainId: 1, ruleName: FIXED, ip: "198.51.100.9", expiresAt: 10 },
  ];
  const streamed = new BanState();
  for (const ban of bans) streamed.set(ban);
  const resynced = new BanState();
  resynced.set({ domainId: 9, ruleName: "old", ip: "203.0.113.1", expiresAt: DAY });
  resynced.replace(bans);
  const wanted = streamed.wanted(100);
  assert.deepEqual(resynced.wanted(100), wanted);
  assert.deepEqual([...wanted.values()], [
    { ip: "192.0.2.1", expiresAt: DAY },
    { ip: "2001:db8:a:b::/64", expiresAt: HOUR },
  ]);
});

Deno.test("elementKey() names one nft element per address or masked network", () => {
  assert.equal(elementKey("192.0.2.1"), "4:c0000201");
  assert.equal(elementKey("2001:DB8::1"), elementKey("2001:db8:0:0::1"));
  assert.notEqual(elementKey("::ffff:192.0.2.1"), elementKey("192.0.2.1"), "IPv6 set vs IPv4");
  assert.equal(elementKey("2001:db8:a:b::1/64"), elementKey("2001:db8:a:b::/64"));
  assert.equal(elementKey("198.51.100.7/24"), "4:c6336400/24");
  assert.notEqual(elementKey("192.0.2.1/32"), elementKey("192.0.2.1"), "net set vs address set");
  assert.equal(elementKey("not-an-ip"), undefined);
  assert.equal(elementKey("[2001:db8::1]"), undefined);
});

Deno.test("BanState.prune() drops expired bans of every element", () => {
  const state = new BanState();
  state.set({ domainId: 1, ruleName: FIXED, ip: "192.0.2.1", expiresAt: 10 });
  state.set({ domainId: 1, ruleName: FIXED, ip: "192.0.2.2", expiresAt: 10 });
  state.set({ domainId: 1, ruleName: RATE, ip: "192.0.2.2", expiresAt: DAY });
  state.prune(10);
  assert.equal(state.size, 1);
  assert.equal(state.elements, 1);
  assert.deepEqual(state.list(10).map((b) => b.ip), ["192.0.2.2"]);
});
