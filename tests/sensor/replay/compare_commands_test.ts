import assert from "node:assert/strict";
import {
  type ActualCommand,
  compareCommands,
} from "../../../src/sensor/replay/compare_commands.ts";
import type { Expectation } from "../../../src/sensor/replay/fixture.ts";
import { IpSet } from "../../../src/shared/net/ip_set.ts";

function actual(ip: string, at: number, comment = "fixed_bad"): ActualCommand {
  return {
    domain_id: 8984,
    comment,
    rule_name: "tsng.fixed_lists",
    method: "add",
    ip_addr: ip,
    geo: "",
    timestamp: 1_700_000_000 + at,
    timeout: 600,
    worker: "wrk_1",
    broadcast: false,
    hoplite: "replay",
    at,
  };
}

function expectation(commands?: Record<string, unknown>[], none: string[] = []): Expectation {
  return {
    commands,
    none_for: none,
    noneSet: none.length ? IpSet.from(none, String) : undefined,
  };
}

Deno.test("compareCommands() matches each command on the keys the expectation states", () => {
  const result = compareCommands(
    expectation([{ ip_addr: "192.0.2.1" }, { at: 2.0004, method: "add", timeout: 600 }]),
    [actual("192.0.2.1", 1), actual("192.0.2.2", 2)],
  );
  assert.deepEqual(result, { ok: true, diff: [] });
});

Deno.test("compareCommands() shows - expected, + actual and the differing keys", () => {
  const result = compareCommands(
    expectation([{ ip_addr: "192.0.2.1", comment: "many_uas" }, { ip_addr: "192.0.2.2" }]),
    [actual("192.0.2.1", 1)],
  );
  assert.equal(result.ok, false);
  assert.deepEqual(result.diff, [
    '  - [0] {ip_addr: "192.0.2.1", comment: "many_uas"}',
    '  + [0] {ip_addr: "192.0.2.1", comment: "fixed_bad"}',
    "          differs in: comment",
    '  - [1] {ip_addr: "192.0.2.2"}',
    "          (missing: no command [1] received)",
  ]);
});

Deno.test("compareCommands() fails on a leftover command and on none_for", () => {
  const extra = compareCommands(expectation([]), [actual("192.0.2.1", 1)]);
  assert.equal(extra.ok, false);
  assert.match(
    extra.diff[0]!,
    /^ {2}\+ \[0\] \{at: 1, method: "add", ip_addr: "192\.0\.2\.1".*\(unexpected\)$/,
  );
  const none = compareCommands(expectation(undefined, ["192.0.2.0/24"]), [
    actual("198.51.100.1", 1),
    actual("192.0.2.77", 2),
  ]);
  assert.equal(none.ok, false);
  assert.equal(none.diff.length, 1);
  assert.match(none.diff[0]!, /\[1\].*192\.0\.2\.77.*none_for lists 192\.0\.2\.77/);
});
