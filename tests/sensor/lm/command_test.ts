import assert from "node:assert/strict";
import { SEED_COMMAND_KEYS } from "../../_support/seed.ts";
import { type BanCommand, formatCommand } from "../../../src/sensor/lm/mod.ts";

const seedExample: BanCommand = {
  domain_id: 8984,
  comment: "loc_rate_def1_GET/",
  rule_name: "tsng.location_rate",
  method: "add",
  ip_addr: "1.2.3.4",
  geo: "US",
  timestamp: 1669808971.2739999,
  timeout: 5183,
  worker: "wrk_1",
  broadcast: false,
  hoplite: "1c30c1ea0869",
};

Deno.test("formatCommand() prints the seed example with its exact key order", () => {
  assert.equal(
    formatCommand(seedExample),
    '{"domain_id":8984,"comment":"loc_rate_def1_GET/","rule_name":"tsng.location_rate",' +
      '"method":"add","ip_addr":"1.2.3.4","geo":"US","timestamp":1669808971.274,"timeout":5183,' +
      '"worker":"wrk_1","broadcast":false,"hoplite":"1c30c1ea0869"}',
  );
  assert.deepEqual(Object.keys(JSON.parse(formatCommand(seedExample))), SEED_COMMAND_KEYS);
});

Deno.test("formatCommand() omits timeout on del even when one is given", () => {
  const text = formatCommand({ ...seedExample, method: "del" });
  assert.ok(!text.includes("timeout"));
  assert.deepEqual(
    Object.keys(JSON.parse(text)),
    SEED_COMMAND_KEYS.filter((k) => k !== "timeout"),
  );
});

Deno.test("formatCommand() keeps a whole-second timestamp a float and rounds to ms", () => {
  assert.match(
    formatCommand({ ...seedExample, timestamp: 1669808971 }),
    /"timestamp":1669808971\.0,/,
  );
  assert.match(
    formatCommand({ ...seedExample, timestamp: 1669808971.2746 }),
    /"timestamp":1669808971\.275,/,
  );
});

Deno.test("formatCommand() escapes strings so odd event names stay valid JSON", () => {
  const cmd = { ...seedExample, comment: 'lua_"quoted"\n\u2028', ip_addr: "2001:db8::1" };
  assert.deepEqual(JSON.parse(formatCommand(cmd)), { ...cmd, timestamp: 1669808971.274 });
});
