import assert from "node:assert/strict";
import { join } from "node:path";
import { checkConfig } from "../../src/commands/check_config_command.ts";

async function fixture(domainFile?: unknown): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(join(dir, "filters"));
  if (domainFile !== undefined) {
    await Deno.writeTextFile(join(dir, "filters", "8984.json"), JSON.stringify(domainFile));
  }
  return `[tsng]\nfilters_config_dir = ${join(dir, "filters")}\ncomponents_config_dir = ${
    join(dir, "components")
  }\n`;
}

Deno.test("checkConfig() passes the embedded defaults", async () => {
  assert.deepEqual(await checkConfig("", "defaults"), []);
});

Deno.test("checkConfig() names the key of a non-numeric port", async () => {
  const problems = await checkConfig("[tsng]\napi_server_port = eighty\n", "q.ini");
  assert.equal(problems.length, 1);
  assert.equal(problems[0]!.key, "[tsng] api_server_port");
  assert.equal(problems[0]!.file, "q.ini");
});

Deno.test("checkConfig() names the key of an unknown socket type", async () => {
  const problems = await checkConfig("[tsng]\ninput_socket = dealer\n", "q.ini");
  assert.deepEqual(problems.map((p) => p.key), ["[tsng] input_socket"]);
});

Deno.test("checkConfig() names a domain file's unknown component", async () => {
  const ini = await fixture({ many_uas: { max_uas: 3 }, bogus: {} });
  const problems = await checkConfig(ini, "q.ini");
  assert.equal(problems.length, 1);
  assert.match(problems[0]!.file, /8984\.json$/);
  assert.equal(problems[0]!.key, "bogus");
  assert.match(problems[0]!.message, /unknown component/);
});

Deno.test("checkConfig() names the field of a malformed regex", async () => {
  const ini = await fixture({ location_flags: { locations: [{ host: "([a-z" }] } });
  const problems = await checkConfig(ini, "q.ini");
  assert.equal(problems.length, 1);
  assert.equal(problems[0]!.key, "location_flags.locations[0].host");
  assert.match(problems[0]!.message, /not a valid RE2 regex/);
});

Deno.test("checkConfig() reports every problem of every file in one run", async () => {
  const ini = await fixture({ many_uas: { max_uas: 0, window: "x", colour: 1 } });
  const dir = ini.match(/components_config_dir = (.*)\n/)![1]!;
  await Deno.mkdir(dir);
  await Deno.writeTextFile(join(dir, "many_uas.yaml"), "max_uas: -1\nwindow: 0\n");
  const problems = await checkConfig(ini, "q.ini");
  assert.deepEqual(
    problems.map((p) => `${p.file.split("/").pop()}: ${p.key}: ${p.message.split(" (")[0]}`),
    [
      "many_uas.yaml: many_uas.max_uas: -1 is below the minimum 1",
      "many_uas.yaml: many_uas.window: 0 is below the minimum 1",
      '8984.json: many_uas: unknown field "colour"',
      "8984.json: many_uas.max_uas: 0 is below the minimum 1",
      '8984.json: many_uas.window: expected a number, got string "x"',
    ],
  );
});

Deno.test("checkConfig() builds each domain's chain as serve does: a missing Lua script is an error", async () => {
  const ini = await fixture({ lua: { scripts: [{ file: "missing.lua" }] } });
  const problems = await checkConfig(ini, "q.ini");
  assert.equal(problems.length, 1);
  assert.equal(problems[0]!.file, "domain 8984");
  assert.match(problems[0]!.message, /script "missing\.lua" is neither in components_config_dir/);
});

Deno.test("checkConfig() warns about a geoip_db it cannot open", async () => {
  const problems = await checkConfig("[tsng]\ngeoip_db = /nonexistent/x.mmdb\n", "q.ini");
  assert.deepEqual(
    problems.map((p) => [p.key, p.severity]),
    [["[tsng] geoip_db", "warning"]],
  );
});
