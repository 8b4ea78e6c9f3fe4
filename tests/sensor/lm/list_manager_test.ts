import assert from "node:assert/strict";
import { formatCommand, ListManager, TICK_MS } from "../../../src/sensor/lm/mod.ts";
import { autoRate, brief, lm, NO_FLAGS, projection, setup, T0 } from "./_helpers.ts";

const D = 8984;

Deno.test("ListManager enabled projection: one add per IP with the seed's fields", () => {
  const { lm: m, clock, sent } = setup();
  m.configure(D, lm([projection({ name: "rate", timeout: 5183 })]));
  m.onEvents(D, "1.2.3.4", ["loc_rate_def1_GET/"], NO_FLAGS, 1);
  assert.deepEqual(sent, [{
    domain_id: D,
    comment: "loc_rate_def1_GET/",
    rule_name: "tsng.location_rate",
    method: "add",
    ip_addr: "1.2.3.4",
    geo: "US",
    timestamp: T0 / 1000,
    timeout: 5183,
    worker: "wrk_1",
    broadcast: false,
    hoplite: "sensor-1",
  }]);
  clock.advance(1000);
  m.onEvents(D, "1.2.3.4", ["loc_rate_def1_GET/"], NO_FLAGS, 2);
  m.onEvents(D, "1.2.3.4", ["loc_rate_other_GET/"], NO_FLAGS, 1);
  m.onEvents(D, "5.6.7.8", ["many_uas"], NO_FLAGS, 1);
  assert.equal(sent.length, 1, "repeated events and non-matching events send nothing");
  m.onEvents(D, "5.6.7.8", ["loc_rate_def1_GET/"], NO_FLAGS, 0);
  assert.deepEqual(brief(sent), [
    "add 1.2.3.4 loc_rate_def1_GET/",
    "add 5.6.7.8 loc_rate_def1_GET/",
  ]);
  assert.equal(sent[1]?.geo, "");
  assert.equal(sent[1]?.worker, "wrk_0");
  assert.deepEqual(m.bans(D).map((b) => [b.ip, b.projection, b.expires_at - b.added_at]), [
    ["1.2.3.4", "rate", 5183_000],
    ["5.6.7.8", "rate", 5183_000],
  ]);
});

Deno.test("ListManager re-adds a ban only after it expired, without sending del", () => {
  const { lm: m, clock, sent } = setup();
  m.configure(D, lm([projection({ name: "rate", timeout: 60 })]));
  m.onEvents(D, "1.2.3.4", ["loc_rate_a"], NO_FLAGS, 1);
  clock.advance(59_999);
  m.onEvents(D, "1.2.3.4", ["loc_rate_a"], NO_FLAGS, 1);
  assert.equal(sent.length, 1);
  clock.advance(1);
  assert.deepEqual(m.bans(D), []);
  m.onEvents(D, "1.2.3.4", ["loc_rate_b"], NO_FLAGS, 1);
  assert.deepEqual(brief(sent), ["add 1.2.3.4 loc_rate_a", "add 1.2.3.4 loc_rate_b"]);
});

Deno.test("ListManager comments _multiple_ only for two or more distinct events", () => {
  const { lm: m, sent } = setup();
  m.configure(D, lm([projection({ name: "rate", events: "^(loc_rate_|many_uas$)" })]));
  m.onEvents(D, "1.1.1.1", ["loc_rate_a", "loc_rate_a"], NO_FLAGS, 1);
  m.onEvents(D, "2.2.2.2", ["loc_rate_a", "fixed_bad", "many_uas"], NO_FLAGS, 1);
  m.onEvents(D, "3.3.3.3", ["fixed_bad", "many_uas"], NO_FLAGS, 1);
  assert.deepEqual(brief(sent), [
    "add 1.1.1.1 loc_rate_a",
    "add 2.2.2.2 _multiple_",
    "add 3.3.3.3 many_uas",
  ]);
});

Deno.test("ListManager sends one command for two projections sharing a rule_name", () => {
  const { lm: m, sent } = setup();
  m.configure(
    D,
    lm([
      projection({ name: "rate", events: "^loc_rate_" }),
      projection({ name: "uas", events: "^many_uas$" }),
      projection({ name: "hash", events: "^hash_score_", rule_name: "tsng.hash" }),
    ]),
  );
  m.onEvents(D, "1.1.1.1", ["loc_rate_a", "many_uas"], NO_FLAGS, 1);
  m.onEvents(D, "2.2.2.2", ["loc_rate_a"], NO_FLAGS, 1);
  m.onEvents(D, "2.2.2.2", ["many_uas", "hash_score_ip"], NO_FLAGS, 1);
  assert.deepEqual(sent.map((c) => `${c.rule_name} ${c.ip_addr} ${c.comment}`), [
    "tsng.location_rate 1.1.1.1 _multiple_",
    "tsng.location_rate 2.2.2.2 loc_rate_a",
    "tsng.hash 2.2.2.2 hash_score_ip",
  ]);
  assert.equal(m.modes(D).uas?.bans, 2, "uas also holds both location_rate bans");
  sent.length = 0;
  // Disabling the projection that added them keeps the bans the other one still wants.
  m.configure(
    D,
    lm([
      projection({ name: "rate", events: "^loc_rate_", state: "disabled" }),
      projection({ name: "uas", events: "^many_uas$" }),
      projection({ name: "hash", events: "^hash_score_", rule_name: "tsng.hash" }),
    ]),
  );
  assert.equal(sent.length, 0);
  assert.deepEqual(m.bans(D).map((b) => `${b.ip} ${b.projection}`), [
    "1.1.1.1 uas",
    "2.2.2.2 uas",
    "2.2.2.2 hash",
  ]);
  m.configure(
    D,
    lm([projection({ name: "hash", events: "^hash_score_", rule_name: "tsng.hash" })]),
  );
  assert.deepEqual(sent.map((c) => `${c.method} ${c.rule_name} ${c.ip_addr} ${c.comment}`), [
    "del tsng.location_rate 1.1.1.1 _multiple_",
    "del tsng.location_rate 2.2.2.2 loc_rate_a",
  ]);
});

Deno.test("ListManager skips a projection when one of its skip_if flags is true", () => {
  const { lm: m, sent } = setup();
  m.configure(D, lm([projection({ name: "rate", skip_if: ["whitelisted", "static"] })]));
  m.onEvents(D, "1.1.1.1", ["loc_rate_a"], new Map([["static", true]]), 1);
  m.onEvents(D, "2.2.2.2", ["loc_rate_a"], new Map([["static", false], ["ua_bot", true]]), 1);
  assert.deepEqual(brief(sent), ["add 2.2.2.2 loc_rate_a"]);
  assert.equal(m.modes(D).rate?.events, 1, "a skipped request is not counted either");
});

Deno.test("ListManager auto: nursery -> watch -> block, adding every watched IP at once", () => {
  const { lm: m, clock, sent } = setup();
  m.configure(
    D,
    autoRate({ nursery: { events: 5, ips: 3 }, activation: { events: 4, ips: 2 }, timeout: 600 }),
  );
  assert.equal(m.modes(D).rate?.mode, "nursery");
  for (const ip of ["1.0.0.1", "1.0.0.2", "1.0.0.3", "1.0.0.1", "1.0.0.2"]) {
    m.onEvents(D, ip, ["loc_rate_a"], NO_FLAGS, 1);
  }
  assert.equal(m.modes(D).rate?.events, 5);
  assert.equal(m.modes(D).rate?.ips, 3);
  assert.equal(m.modes(D).rate?.watched, 0, "the nursery keeps no IPs");
  clock.advance(TICK_MS);
  assert.equal(m.tick(), true);
  assert.equal(m.modes(D).rate?.mode, "watch");
  assert.equal(m.modes(D).rate?.last_events, 5);
  clock.advance(1000);
  m.onEvents(D, "2.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  m.onEvents(D, "2.0.0.1", ["loc_rate_b"], NO_FLAGS, 2);
  m.onEvents(D, "2.0.0.2", ["loc_rate_c"], NO_FLAGS, 3);
  m.onEvents(D, "2.0.0.2", ["loc_rate_c"], NO_FLAGS, 3);
  assert.equal(sent.length, 0, "nothing is sent while watching");
  assert.equal(m.modes(D).rate?.watched, 2);
  clock.advance(TICK_MS - 1000);
  m.tick();
  assert.equal(m.modes(D).rate?.mode, "block");
  assert.deepEqual(brief(sent), ["add 2.0.0.1 _multiple_", "add 2.0.0.2 loc_rate_c"]);
  assert.equal(sent[0]?.worker, "wrk_2", "the worker that last saw the IP");
  assert.equal(sent[0]?.timeout, 600);
  assert.equal(sent[0]?.timestamp, (T0 + 2 * TICK_MS) / 1000);
  m.onEvents(D, "2.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  m.onEvents(D, "3.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  assert.deepEqual(brief(sent).slice(2), ["add 3.0.0.1 loc_rate_a"]);
});

Deno.test("ListManager auto without activation goes nursery -> block and adds on later events", () => {
  const { lm: m, clock, sent } = setup();
  m.configure(D, autoRate({ nursery: { events: 2, ips: 0 } }));
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  clock.advance(TICK_MS);
  m.tick();
  assert.equal(m.modes(D).rate?.mode, "block");
  assert.equal(sent.length, 0, "the nursery knows no IPs to add");
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  assert.deepEqual(brief(sent), ["add 1.0.0.1 loc_rate_a"]);
});

Deno.test("ListManager auto with only activation starts in watch", () => {
  const { lm: m, clock, sent } = setup();
  m.configure(
    D,
    autoRate({ activation: { events: 0, ips: 2 } }),
  );
  assert.equal(m.modes(D).rate?.mode, "watch");
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  m.onEvents(D, "1.0.0.2", ["loc_rate_a"], NO_FLAGS, 1);
  clock.advance(TICK_MS);
  m.tick();
  assert.deepEqual(brief(sent), ["add 1.0.0.1 loc_rate_a", "add 1.0.0.2 loc_rate_a"]);
});

Deno.test("ListManager auto with no thresholds blocks from the start", () => {
  const { lm: m, sent } = setup();
  m.configure(D, autoRate());
  assert.equal(m.modes(D).rate?.mode, "block");
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  assert.equal(sent.length, 1);
});

Deno.test("ListManager stays in nursery while traffic stays under either threshold", () => {
  const { lm: m, clock, sent } = setup();
  m.configure(
    D,
    autoRate({ nursery: { events: 10, ips: 3 }, activation: { events: 1, ips: 0 } }),
  );
  for (let window = 0; window < 5; window++) {
    // Window 0-1: many events from two IPs; 2-4: three IPs but few events.
    const ips = window < 2 ? ["1.0.0.1", "1.0.0.2"] : ["1.0.0.1", "1.0.0.2", "1.0.0.3"];
    const n = window < 2 ? 20 : 9;
    for (let i = 0; i < n; i++) m.onEvents(D, ips[i % ips.length]!, ["loc_rate_a"], NO_FLAGS, 1);
    clock.advance(TICK_MS);
    m.tick();
    assert.equal(m.modes(D).rate?.mode, "nursery", `window ${window}`);
  }
  assert.equal(sent.length, 0);
  assert.equal(m.modes(D).rate?.last_events, 9);
  assert.equal(m.modes(D).rate?.last_ips, 3);
});

Deno.test("ListManager drops watched IPs idle for watch_ttl", () => {
  const { lm: m, clock, sent } = setup();
  m.configure(
    D,
    autoRate({ activation: { events: 5, ips: 0 }, watch_ttl: 55 }),
  );
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  clock.advance(TICK_MS);
  m.tick();
  assert.equal(m.modes(D).rate?.watched, 1, "idle 30 s < 55 s");
  clock.advance(10_000);
  m.onEvents(D, "1.0.0.2", ["loc_rate_a"], NO_FLAGS, 1);
  clock.advance(TICK_MS - 10_000);
  m.tick();
  assert.equal(m.modes(D).rate?.watched, 1, "1.0.0.1 idle 60 s was dropped");
  for (let i = 0; i < 5; i++) m.onEvents(D, "1.0.0.3", ["loc_rate_a"], NO_FLAGS, 1);
  clock.advance(TICK_MS);
  m.tick();
  assert.equal(m.modes(D).rate?.mode, "block");
  assert.deepEqual(brief(sent), ["add 1.0.0.2 loc_rate_a", "add 1.0.0.3 loc_rate_a"]);
});

Deno.test("ListManager cooldown returns an idle block projection to its first mode", () => {
  const { lm: m, clock, sent } = setup();
  m.configure(
    D,
    autoRate({ nursery: { events: 1, ips: 0 }, cooldown: 90, timeout: 3600 }),
  );
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  clock.advance(TICK_MS);
  m.tick();
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  assert.equal(m.modes(D).rate?.mode, "block");
  for (let i = 0; i < 2; i++) {
    clock.advance(TICK_MS);
    m.tick();
    assert.equal(m.modes(D).rate?.mode, "block", `${(i + 1) * 30} s idle`);
  }
  clock.advance(TICK_MS);
  m.tick();
  assert.equal(m.modes(D).rate?.mode, "nursery", "90 s idle");
  assert.deepEqual(brief(sent), ["add 1.0.0.1 loc_rate_a"], "no del: bans stay until they expire");
  assert.equal(m.bans(D).length, 1);
  m.onEvents(D, "1.0.0.2", ["loc_rate_a"], NO_FLAGS, 1);
  assert.equal(sent.length, 1, "back in nursery, nothing is sent");
});

Deno.test("ListManager cooldown from watch-first goes back to watch; 0 never cools down", () => {
  const { lm: m, clock } = setup();
  m.configure(
    D,
    lm([
      projection({ name: "a", state: "auto", activation: { events: 1, ips: 0 }, cooldown: 30 }),
      projection({ name: "b", state: "auto", activation: { events: 1, ips: 0 }, cooldown: 0 }),
    ]),
  );
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  clock.advance(TICK_MS);
  m.tick();
  assert.deepEqual([m.modes(D).a?.mode, m.modes(D).b?.mode], ["block", "block"]);
  for (let i = 0; i < 10; i++) {
    clock.advance(TICK_MS);
    m.tick();
  }
  assert.deepEqual([m.modes(D).a?.mode, m.modes(D).b?.mode], ["watch", "block"]);
});

Deno.test("ListManager sends del when a projection is disabled or removed", () => {
  const { lm: m, clock, sent } = setup();
  const rate = projection({ name: "rate" });
  const uas = projection({ name: "uas", events: "^many_uas$", rule_name: "tsng.uas" });
  m.configure(D, lm([rate, uas]));
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  m.onEvents(D, "1.0.0.2", ["loc_rate_b"], NO_FLAGS, 2);
  m.onEvents(D, "1.0.0.3", ["many_uas"], NO_FLAGS, 1);
  sent.length = 0;
  clock.advance(5000);
  m.configure(D, lm([{ ...rate, state: "disabled" }, uas]));
  assert.deepEqual(
    sent.map((c) => `${c.method} ${c.ip_addr} ${c.comment} ${c.worker} ${c.timeout}`),
    ["del 1.0.0.1 loc_rate_a wrk_1 undefined", "del 1.0.0.2 loc_rate_b wrk_2 undefined"],
  );
  assert.equal(sent[0]?.timestamp, (T0 + 5000) / 1000);
  assert.equal(m.modes(D).rate?.mode, "disabled");
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  assert.equal(sent.length, 2, "a disabled projection does nothing");
  m.configure(D, lm([{ ...rate, state: "disabled" }]));
  assert.deepEqual(brief(sent).slice(2), ["del 1.0.0.3 many_uas"]);
  assert.equal(m.modes(D).uas, undefined);
});

Deno.test("ListManager.configure() with the same config keeps modes, watched IPs and bans", () => {
  const { lm: m, clock, sent } = setup();
  const config = () =>
    lm([
      projection({ name: "watching", state: "auto", activation: { events: 3, ips: 0 } }),
      projection({ name: "blocking", events: "^many_uas$", rule_name: "tsng.uas" }),
    ]);
  m.configure(D, config());
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  m.onEvents(D, "1.0.0.2", ["many_uas"], NO_FLAGS, 1);
  const before = m.modes(D);
  clock.advance(1000);
  m.configure(D, config());
  m.configure(D, config());
  assert.deepEqual(m.modes(D), before);
  assert.deepEqual(brief(sent), ["add 1.0.0.2 many_uas"], "no duplicate add, no del");
  // A changed regex keeps the bans and the watch list; activation still counts the window.
  m.configure(
    D,
    lm([
      projection({
        name: "watching",
        state: "auto",
        activation: { events: 3, ips: 0 },
        events: "^loc_rate_|^x$",
      }),
      projection({ name: "blocking", events: "^many_uas$|^y$", rule_name: "tsng.uas" }),
    ]),
  );
  assert.equal(m.bans(D).length, 1);
  m.onEvents(D, "1.0.0.3", ["x"], NO_FLAGS, 1);
  m.onEvents(D, "1.0.0.3", ["x"], NO_FLAGS, 1);
  m.onEvents(D, "1.0.0.2", ["y"], NO_FLAGS, 1);
  clock.advance(TICK_MS);
  m.tick();
  assert.deepEqual(brief(sent), [
    "add 1.0.0.2 many_uas",
    "add 1.0.0.1 loc_rate_a",
    "add 1.0.0.3 x",
  ]);
});

Deno.test("ListManager.configure() state changes move the mode; a bad config changes nothing", () => {
  const { lm: m, sent } = setup();
  const auto = projection({ name: "rate", state: "auto", nursery: { events: 9, ips: 0 } });
  m.configure(D, lm([auto]));
  assert.equal(m.modes(D).rate?.mode, "nursery");
  m.configure(D, lm([{ ...auto, state: "enabled" }]));
  assert.equal(m.modes(D).rate?.mode, "block");
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  m.configure(D, lm([auto]));
  assert.equal(m.modes(D).rate?.mode, "nursery");
  assert.equal(m.bans(D).length, 1, "going back to auto keeps the ban");
  assert.throws(
    () => m.configure(D, lm([{ ...auto, state: "disabled" }, { ...auto, events: "(" }])),
    (e: Error) => e instanceof TypeError && /projection "rate" is defined twice/.test(e.message),
  );
  assert.throws(
    () => m.configure(D, lm([{ ...auto, state: "disabled", events: "(" }])),
    (e: Error) =>
      e instanceof SyntaxError && /domain 8984: projection "rate" events/.test(e.message),
  );
  assert.equal(m.modes(D).rate?.mode, "nursery");
  assert.deepEqual(brief(sent), ["add 1.0.0.1 loc_rate_a"]);
});

Deno.test("ListManager.configure() merges global projections unless overridden or off", () => {
  const { lm: m, sent } = setup();
  const global = lm([
    projection({ name: "rate", state: "disabled" }),
    projection({ name: "uas", events: "^many_uas$" }),
  ]);
  m.configure(D, lm([projection({ name: "rate" })]), global);
  assert.deepEqual(Object.keys(m.modes(D)), ["rate", "uas"]);
  assert.equal(m.modes(D).rate?.mode, "block", "the domain's own projection wins by name");
  m.configure(8985, lm([], false), global);
  assert.deepEqual(m.modes(8985), {});
  m.onEvents(8985, "1.0.0.1", ["many_uas"], NO_FLAGS, 1);
  m.onEvents(D, "1.0.0.1", ["many_uas"], NO_FLAGS, 1);
  assert.deepEqual(sent.map((c) => `${c.domain_id} ${c.ip_addr}`), ["8984 1.0.0.1"]);
});

Deno.test("ListManager.removeDomain() sends del for its active bans and forgets it", () => {
  const { lm: m, sent } = setup();
  m.configure(D, lm([projection({ name: "rate" })]));
  m.configure(8985, lm([projection({ name: "rate" })]));
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  m.onEvents(D, "1.0.0.2", ["loc_rate_a"], NO_FLAGS, 1);
  m.onEvents(8985, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  assert.equal(m.removeDomain(D), 2);
  assert.deepEqual(sent.slice(3).map((c) => `${c.domain_id} ${c.method} ${c.ip_addr}`), [
    "8984 del 1.0.0.1",
    "8984 del 1.0.0.2",
  ]);
  assert.deepEqual(m.bans(D), []);
  assert.deepEqual(m.domainIds(), [8985]);
  m.onEvents(D, "1.0.0.3", ["loc_rate_a"], NO_FLAGS, 1);
  assert.equal(sent.length, 5);
  assert.equal(m.removeDomain(D), 0);
});

Deno.test("ListManager.unban() lifts every rule's ban on the IP and may re-add later", () => {
  const { lm: m, clock, sent } = setup();
  m.configure(
    D,
    lm([
      projection({ name: "rate" }),
      projection({ name: "uas", events: "^many_uas$", rule_name: "tsng.uas" }),
      projection({ name: "w", events: "^hash_", state: "auto", activation: { events: 1, ips: 0 } }),
    ]),
  );
  m.onEvents(D, "1.0.0.1", ["loc_rate_a", "many_uas", "hash_score_ip"], NO_FLAGS, 1);
  m.onEvents(D, "1.0.0.2", ["loc_rate_a"], NO_FLAGS, 1);
  sent.length = 0;
  assert.equal(m.unban(D, "1.0.0.1"), 2);
  assert.deepEqual(sent.map((c) => `${c.method} ${c.rule_name} ${c.ip_addr}`), [
    "del tsng.location_rate 1.0.0.1",
    "del tsng.uas 1.0.0.1",
  ]);
  assert.equal(m.modes(D).w?.watched, 0, "unban also forgets the watched IP");
  assert.equal(m.unban(D, "1.0.0.1"), 0);
  assert.equal(m.unban(9999, "1.0.0.1"), 0);
  assert.deepEqual(m.bans(D).map((b) => b.ip), ["1.0.0.2"]);
  clock.advance(1000);
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  assert.deepEqual(brief(sent).slice(2), ["add 1.0.0.1 loc_rate_a"]);
});

Deno.test("ListManager.onEvents() runs the 30 s tick on event time without tick()", () => {
  const { lm: m, clock, sent } = setup();
  m.configure(
    D,
    autoRate({ nursery: { events: 3, ips: 0 }, activation: { events: 3, ips: 0 } }),
  );
  // A replayed attack: one event every 5 s of event time, no timer.
  for (let i = 0; i < 30; i++) {
    m.onEvents(D, `1.0.0.${i % 4}`, ["loc_rate_a"], NO_FLAGS, 1);
    clock.advance(5000);
  }
  assert.equal(m.modes(D).rate?.mode, "block");
  assert.deepEqual(brief(sent), [
    "add 1.0.0.2 loc_rate_a",
    "add 1.0.0.3 loc_rate_a",
    "add 1.0.0.0 loc_rate_a",
    "add 1.0.0.1 loc_rate_a",
  ]);
  // nursery 0-30 s, watch 30-60 s (6 events, all 4 IPs), block from 60 s on.
  assert.equal(sent[0]?.timestamp, (T0 + 60_000) / 1000);
});

Deno.test("ListManager.tick() does nothing until the window is (almost) due", () => {
  const { lm: m, clock } = setup();
  m.configure(D, autoRate({ nursery: { events: 1, ips: 0 } }));
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  clock.advance(20_000);
  assert.equal(m.tick(), false);
  assert.equal(m.modes(D).rate?.mode, "nursery");
  clock.advance(9_500);
  assert.equal(m.tick(), true, "a 30 s timer firing a little early still ticks");
  assert.equal(m.modes(D).rate?.mode, "block");
  assert.equal(m.tick(), false);
});

Deno.test("ListManager uses the configured worker prefix", () => {
  const { lm: m, sent } = setup({ workerPrefix: "qpc" });
  m.configure(D, lm([projection({ name: "rate" })]));
  m.onEvents(D, "192.0.2.1", ["loc_rate_a"], NO_FLAGS, 3);
  assert.equal(sent[0]?.worker, "qpc_3");
  assert.equal(sent[0]?.ip_addr, "192.0.2.1");
});

Deno.test("ListManager counts and bans an IPv6 client as its /ipv6_prefix network", () => {
  const { lm: m, sent } = setup();
  m.configure(
    D,
    lm([projection({ name: "rate", evidence: { events: 3, window: 60 }, ipv6_prefix: 64 })]),
  );
  // One host rotating addresses inside its /64: three events from three addresses are one source.
  for (const ip of ["2001:db8:a:b::1", "2001:db8:a:b:ffff::2", "2001:db8:a:b:1:2:3:4"]) {
    m.onEvents(D, ip, ["loc_rate_a"], NO_FLAGS, 1);
  }
  assert.deepEqual(brief(sent), ["add 2001:db8:a:b::/64 loc_rate_a"]);
  assert.equal(m.unban(D, "2001:db8:a:b::99"), 1, "an address inside lifts the network's ban");
  const exact = setup();
  exact.lm.configure(D, lm([projection({ name: "rate", ipv6_prefix: 128 })]));
  exact.lm.onEvents(D, "2001:db8::1", ["loc_rate_a"], NO_FLAGS, 1);
  assert.equal(exact.sent[0]?.ip_addr, "2001:db8::1", "prefix 128: the address itself");
});

Deno.test("ListManager refuses adds beyond the rule's lists[].max_entries and logs once", () => {
  const logged: string[] = [];
  const { lm: m, clock, sent } = setup({ log: (level, msg) => logged.push(`${level} ${msg}`) });
  const config = lm([projection({ name: "rate", timeout: 60 })]);
  config.lists = [{ name: "tsng.location_rate", timeout: 3600, max_entries: 2 }];
  m.configure(D, config);
  for (const ip of ["1.0.0.1", "1.0.0.2", "1.0.0.3", "1.0.0.4"]) {
    m.onEvents(D, ip, ["loc_rate_a"], NO_FLAGS, 1);
  }
  assert.deepEqual(brief(sent), ["add 1.0.0.1 loc_rate_a", "add 1.0.0.2 loc_rate_a"]);
  assert.equal(m.modes(D).rate?.refused, 2);
  clock.advance(TICK_MS);
  m.tick();
  assert.deepEqual(logged.filter((l) => l.startsWith("warn")), [
    'warn lm: domain 8984 list "tsng.location_rate" is full',
  ]);
  clock.advance(TICK_MS);
  m.onEvents(D, "1.0.0.3", ["loc_rate_a"], NO_FLAGS, 1);
  assert.deepEqual(
    brief(sent).slice(2),
    ["add 1.0.0.3 loc_rate_a"],
    "room again once bans expired",
  );
});

Deno.test("ListManager.check() throws what configure() would, changing nothing", () => {
  const { lm: m } = setup();
  const bad = lm([projection({ name: "rate" }), projection({ name: "rate" })]);
  assert.throws(() => ListManager.check(D, bad), /projection "rate" is defined twice/);
  assert.throws(
    () => ListManager.check(D, lm([]), lm([{ ...projection({ name: "g" }), events: "a(" }])),
    SyntaxError,
  );
  ListManager.check(D, lm([projection({ name: "rate" })]));
  assert.deepEqual(m.domainIds(), []);
});

Deno.test("ListManager ignores small clock steps back and restarts windows on a big one", () => {
  const { lm: m, clock } = setup();
  m.configure(D, autoRate({ nursery: { events: 3, ips: 0 } }));
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  clock.advance(-50); // records a few ms out of order
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  assert.equal(m.modes(D).rate?.events, 2, "no window closed");
  clock.advance(-3_600_000); // a replay started over
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  assert.equal(m.modes(D).rate?.events, 1, "a new window started");
  assert.equal(m.modes(D).rate?.last_events, 2);
  assert.equal(m.modes(D).rate?.mode, "nursery");
});

Deno.test("ListManager block mode with evidence bans a source only after N events in the window", () => {
  const { lm: m, clock, sent } = setup();
  m.configure(
    D,
    lm([projection({ name: "rate", evidence: { events: 3, window: 60 }, ipv6_prefix: 64 })]),
  );
  // A visitor with two stray events, a minute apart from a third: never banned.
  m.onEvents(D, "192.0.2.1", ["loc_rate_a"], NO_FLAGS, 1);
  m.onEvents(D, "192.0.2.1", ["loc_rate_a"], NO_FLAGS, 1);
  clock.advance(61_000);
  m.onEvents(D, "192.0.2.1", ["loc_rate_a"], NO_FLAGS, 1);
  assert.deepEqual(brief(sent), []);
  // A source with three in one request-burst: banned at the third.
  m.onEvents(D, "203.0.113.9", ["loc_rate_a", "loc_rate_a"], NO_FLAGS, 1);
  assert.deepEqual(brief(sent), []);
  m.onEvents(D, "203.0.113.9", ["loc_rate_a"], NO_FLAGS, 1);
  assert.deepEqual(brief(sent), ["add 203.0.113.9 loc_rate_a"]);
});

Deno.test("ListManager bypass bans one source far over threshold while still in nursery", () => {
  const { lm: m, sent } = setup();
  m.configure(
    D,
    autoRate({
      nursery: { events: 1000, ips: 1 },
      activation: { events: 3000, ips: 1 },
      bypass: { events: 50, window: 10 },
    }),
  );
  for (let i = 0; i < 49; i++) m.onEvents(D, "203.0.113.7", ["loc_rate_a"], NO_FLAGS, 1);
  for (let i = 0; i < 49; i++) m.onEvents(D, "198.51.100.1", ["loc_rate_a"], NO_FLAGS, 1);
  assert.deepEqual(brief(sent), [], "49 each: neither alone is over");
  m.onEvents(D, "203.0.113.7", ["loc_rate_a"], NO_FLAGS, 1);
  assert.deepEqual(brief(sent), ["add 203.0.113.7 loc_rate_a"]);
  assert.equal(m.modes(D).rate?.mode, "nursery", "the projection itself stays in nursery");
  assert.equal(m.modes(D).rate?.bypassed, 1);
  m.onEvents(D, "203.0.113.7", ["loc_rate_a"], NO_FLAGS, 1);
  assert.equal(sent.length, 1, "one add per (rule_name, IP) while active");
});

Deno.test("ListManager escalates the ban time of a repeat offender, capped, and forgets", () => {
  const { lm: m, clock, sent } = setup();
  m.configure(
    D,
    lm([projection({
      name: "rate",
      timeout: 60,
      escalation: { factor: 4, max: 1000, forget: 3600 },
    })]),
  );
  const timeouts: number[] = [];
  for (let i = 0; i < 4; i++) {
    m.onEvents(D, "203.0.113.5", ["loc_rate_a"], NO_FLAGS, 1);
    timeouts.push(sent.at(-1)!.timeout!);
    clock.advance(1001_000); // past the longest ban, within forget of the last one
  }
  assert.deepEqual(timeouts, [60, 240, 960, 1000]);
  clock.advance(3600_000);
  m.onEvents(D, "203.0.113.5", ["loc_rate_a"], NO_FLAGS, 1);
  assert.equal(sent.at(-1)!.timeout, 60, "after forget: the first ban time again");
  assert.equal(m.bans(D)[0]!.expires_at - m.bans(D)[0]!.added_at, 60_000);
});

Deno.test("ListManager takes worker prefix and broadcast from the domain's qpc, on every reconfigure", () => {
  const { lm: m, sent } = setup({ workerPrefix: "wrk" });
  const config = lm([projection({ name: "rate" })]);
  m.configure(D, config, undefined, { worker: "edge", broadcast: true });
  m.onEvents(D, "192.0.2.1", ["loc_rate_a"], NO_FLAGS, 2);
  assert.deepEqual([sent[0]?.worker, sent[0]?.broadcast], ["edge_2", true]);
  assert.match(formatCommand(sent[0]!), /"worker":"edge_2","broadcast":true,/);
  m.configure(D, config, undefined, { worker: "w", broadcast: false });
  m.onEvents(D, "192.0.2.2", ["loc_rate_a"], NO_FLAGS, 1);
  assert.deepEqual([sent[1]?.worker, sent[1]?.broadcast], ["w_1", false]);
  m.unban(D, "192.0.2.1");
  assert.deepEqual(
    [sent[2]?.method, sent[2]?.worker, sent[2]?.broadcast],
    ["del", "edge_2", false],
    "a del names the worker that added, and the broadcast in force now",
  );
});

const SAMPLE = { method: "POST", host: "shop.example", url: "/login", status: 401, ua: "curl/8" };

Deno.test("ListManager keeps evidence with each ban and logs one line per add and del", () => {
  const logged: { msg: string; fields: Record<string, unknown> | undefined }[] = [];
  const { lm: m, clock } = setup({ log: (_level, msg, fields) => logged.push({ msg, fields }) });
  m.configure(D, lm([projection({ name: "rate", evidence: { events: 3, window: 60 } })]));
  for (let i = 0; i < 3; i++) {
    clock.advance(1000);
    m.onEvents(D, "203.0.113.9", ["loc_rate_a"], NO_FLAGS, 1, { ...SAMPLE, url: `/login?${i}` });
  }
  const [detail] = m.banDetails("203.0.113.9");
  assert.equal(detail?.reason, "evidence");
  assert.deepEqual(detail?.evidence?.threshold, { events: 3, window: 60 });
  assert.deepEqual(detail?.evidence?.events, { loc_rate_a: 3 });
  assert.equal(detail?.evidence?.count, 3);
  assert.equal(detail!.evidence!.last_at - detail!.evidence!.first_at, 2000);
  assert.deepEqual(detail?.evidence?.samples.map((s) => s.url), [
    "/login?0",
    "/login?1",
    "/login?2",
  ]);
  const line = logged.find((l) => l.msg === "lm: ban 203.0.113.9");
  assert.equal(line?.fields?.projection, "rate");
  assert.deepEqual((line?.fields?.evidence as { count: number }).count, 3);
  m.unban(D, "203.0.113.9");
  assert.ok(logged.some((l) => l.msg === "lm: unban 203.0.113.9"));
  assert.deepEqual(m.history("203.0.113.9").map((h) => h.action), ["add", "del"]);
});

Deno.test("ListManager in simulation decides and keeps would-be bans, publishes nothing", () => {
  const { lm: m, sent } = setup();
  const rate = (simulate: boolean) => lm([projection({ name: "rate", simulate })]);
  m.configure(D, rate(true));
  m.onEvents(D, "203.0.113.9", ["loc_rate_a"], NO_FLAGS, 1, SAMPLE);
  assert.deepEqual(sent, [], "nothing published");
  assert.deepEqual(m.bans(D).map((b) => [b.ip, b.simulated]), [["203.0.113.9", true]]);
  assert.deepEqual(m.history().map((h) => h.action), ["simulated"]);
  m.unban(D, "203.0.113.9");
  assert.deepEqual(sent, [], "no del for a ban never published");
  m.onEvents(D, "203.0.113.9", ["loc_rate_a"], NO_FLAGS, 1, SAMPLE);
  // Out of simulation: the would-be ban is forgotten and the next event bans for real.
  m.configure(D, rate(false));
  assert.deepEqual(m.bans(D), []);
  m.onEvents(D, "203.0.113.9", ["loc_rate_a"], NO_FLAGS, 1, SAMPLE);
  assert.deepEqual(brief(sent), ["add 203.0.113.9 loc_rate_a"]);
});

Deno.test("ListManager reports each ban's time from the source's first event (onBan)", () => {
  const seen: { rule_name: string; seconds: number; simulated: boolean }[] = [];
  const { lm: m, clock } = setup({ onBan: (b) => seen.push(b) });
  m.configure(D, lm([projection({ name: "rate", evidence: { events: 3, window: 60 } })]));
  for (let i = 0; i < 3; i++) {
    m.onEvents(D, "203.0.113.9", ["loc_rate_a"], NO_FLAGS, 1);
    clock.advance(5000);
  }
  assert.deepEqual(seen, [{ rule_name: "tsng.location_rate", seconds: 10, simulated: false }]);
});

Deno.test("ListManager.forgetIdle() forgets a quiet domain without a command; configure() starts it afresh", () => {
  const { lm: m, sent } = setup();
  m.configure(D, lm([projection({ name: "rate" })]));
  m.configure(8985, lm([projection({ name: "rate" })]));
  assert.equal(m.forgetIdle(D), true);
  assert.deepEqual(m.domainIds(), [8985]);
  assert.deepEqual(m.modes(D), {});
  assert.equal(m.forgetIdle(D), true, "an unknown domain is already forgotten");
  assert.deepEqual(sent, []);
  // Back in use: a fresh domain that bans as before.
  m.configure(D, lm([projection({ name: "rate" })]));
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  assert.deepEqual(brief(sent), ["add 1.0.0.1 loc_rate_a"]);
});

Deno.test("ListManager.forgetIdle() keeps a domain with an active ban until it expires, sending no del", () => {
  const { lm: m, clock, sent } = setup();
  m.configure(D, lm([projection({ name: "rate", timeout: 60 })]));
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  assert.equal(m.forgetIdle(D), false);
  assert.deepEqual(m.domainIds(), [D]);
  clock.advance(TICK_MS);
  m.tick();
  assert.deepEqual(m.domainIds(), [D], "the ban is still active");
  clock.advance(TICK_MS);
  m.tick();
  assert.deepEqual(m.domainIds(), [], "forgotten at the first tick after the ban expired");
  assert.deepEqual(brief(sent), ["add 1.0.0.1 loc_rate_a"]);
});

Deno.test("ListManager.forgetIdle() keeps offenders, watched IPs and a projection past its first mode", () => {
  const { lm: m, clock, sent } = setup();
  // A repeat offender escalates its next ban: the domain stays while that is remembered.
  m.configure(
    D,
    lm([projection({
      name: "rate",
      timeout: 60,
      escalation: { factor: 2, max: 3600, forget: 120 },
    })]),
  );
  m.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  clock.advance(61_000);
  assert.equal(m.forgetIdle(D), false);
  clock.advance(TICK_MS);
  m.tick();
  assert.deepEqual(m.domainIds(), [D], "offender remembered for 120 s");
  clock.advance(120_000);
  m.tick();
  assert.deepEqual(m.domainIds(), []);
  // Watched IPs, then block mode after activation: kept, and a later configure() resumes it.
  const auto = autoRate({ activation: { events: 2, ips: 0 }, cooldown: 0, timeout: 60 });
  m.configure(D, auto);
  m.onEvents(D, "2.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  assert.equal(m.forgetIdle(D), false, "an IP is watched");
  m.onEvents(D, "2.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
  clock.advance(TICK_MS);
  m.tick();
  assert.equal(m.modes(D).rate?.mode, "block");
  clock.advance(3600_000);
  m.tick();
  assert.equal(m.forgetIdle(D), false, "block mode is not the first mode");
  m.configure(D, auto);
  assert.equal(m.modes(D).rate?.mode, "block");
  assert.deepEqual(brief(sent).filter((c) => c.startsWith("del")), []);
});

Deno.test("ListManager.history() holds the last 10,000 decisions, oldest first", () => {
  const { lm: m } = setup();
  m.configure(D, lm([projection({ name: "rate" })]));
  const ipOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const bans = 25_000; // past twice the bound: the history is cut in chunks
  for (let i = 0; i < bans; i++) m.onEvents(D, ipOf(i), ["loc_rate_a"], NO_FLAGS, 1);
  const history = m.history();
  assert.equal(history.length, 10_000);
  assert.equal(history[0]!.ip, ipOf(bans - 10_000));
  assert.equal(history.at(-1)!.ip, ipOf(bans - 1));
  assert.deepEqual(m.history(ipOf(bans - 10_001)), [], "older than the bound: gone");
  assert.deepEqual(m.history(ipOf(bans - 1)).map((h) => h.action), ["add"]);
});

Deno.test("ListManager evidence counts event names that Object.prototype also has", () => {
  const { lm: m } = setup();
  m.configure(D, lm([projection({ name: "lua", events: "^(constructor|__proto__)$" })]));
  m.onEvents(D, "203.0.113.9", ["constructor", "__proto__"], NO_FLAGS, 1, SAMPLE);
  const events = m.banDetails("203.0.113.9")[0]?.evidence?.events ?? {};
  assert.equal(Object.getOwnPropertyDescriptor(events, "constructor")?.value, 1);
  assert.equal(Object.getOwnPropertyDescriptor(events, "__proto__")?.value, 1);
});

Deno.test("ListManager's evidence says how an auto projection came to block: when, from what, the window", () => {
  const { lm: m, clock } = setup();
  m.configure(
    D,
    autoRate({ nursery: { events: 6, ips: 3 }, evidence: { events: 2, window: 60 } }),
  );
  // A window with 8 events from 4 sources turns the nursery to block at the tick.
  for (let i = 0; i < 8; i++) m.onEvents(D, `198.51.100.${i % 4}`, ["loc_rate_a"], NO_FLAGS, 1);
  clock.advance(TICK_MS);
  m.tick();
  const since = clock.now();
  clock.advance(1000);
  m.onEvents(D, "203.0.113.7", ["loc_rate_a"], NO_FLAGS, 1);
  assert.deepEqual(m.banDetails("203.0.113.7"), [], "one event is not the evidence");
  m.onEvents(D, "203.0.113.7", ["loc_rate_a"], NO_FLAGS, 1);
  const [detail] = m.banDetails("203.0.113.7");
  assert.equal(detail?.evidence?.mode, "block");
  assert.deepEqual(detail?.evidence?.mode_change, {
    at: since,
    from: "nursery",
    why: "nursery",
    events: 8,
    ips: 4,
  });
  // A projection that starts in block never changed mode: nothing to tell.
  m.configure(2000, lm([projection({ name: "rate" })]));
  m.onEvents(2000, "203.0.113.8", ["loc_rate_a"], NO_FLAGS, 1);
  assert.equal(m.banDetails("203.0.113.8")[0]?.evidence?.mode_change, undefined);
});
