import assert from "node:assert/strict";
import { DEFAULT_DOMAIN, DEFAULT_START, parseFixture } from "../../../src/sensor/replay/fixture.ts";

const MINIMAL = `
requests:
  - { at: 0, ip: 192.0.2.1 }
expect:
  commands: []
`;

function rejects(text: string, pattern: RegExp): void {
  assert.throws(() => parseFixture(text, "f.yaml"), (error: Error) => {
    assert.ok(error instanceof TypeError || error instanceof SyntaxError, error.name);
    assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("parseFixture() fills defaults: domain 8984, fixed start, GET without repeat", () => {
  const f = parseFixture(MINIMAL, "f.yaml");
  assert.equal(f.domain, DEFAULT_DOMAIN);
  assert.equal(f.start, DEFAULT_START);
  assert.equal(f.requests.length, 1);
  assert.deepEqual(f.requests[0]!.repeat, { count: 1, every: 0 });
  assert.deepEqual(f.expect.commands, []);
  assert.equal(f.config.domains.size, 0);
});

Deno.test("parseFixture() names the path of an unknown key at every level, through the config schema validator", () => {
  rejects(MINIMAL + "extra: 1\n", /^f\.yaml: unknown field "extra"/);
  rejects(
    "requests: [{ at: 0, ip: 192.0.2.1, usr_agent: x }]\nexpect: { commands: [] }",
    /requests\[0\]: unknown field "usr_agent"/,
  );
  rejects(
    "requests: [{ at: 0, ip: 192.0.2.1, repeat: { cout: 3 } }]\nexpect: { commands: [] }",
    /requests\[0\]\.repeat: unknown field "cout"/,
  );
  rejects(
    MINIMAL.replace("commands: []", "commands: [{ method: add, ipaddr: 1.2.3.4 }]"),
    /expect\.commands\[0\]: unknown field "ipaddr"/,
  );
  rejects(MINIMAL + "config: { setings: {} }\n", /config: unknown field "setings"/);
  rejects(MINIMAL.replace("commands: []", "comands: []"), /expect: unknown field "comands"/);
});

Deno.test("parseFixture() rejects bad values with their path", () => {
  rejects("requests: [{ at: -1, ip: 192.0.2.1 }]\nexpect: { commands: [] }", /requests\[0\]\.at/);
  rejects("requests: [{ at: 0 }]\nexpect: { commands: [] }", /requests\[0\]: needs ip or ips/);
  rejects(
    "requests: [{ at: 0, ip: { range: 300.0.0.0/8 } }]\nexpect: { commands: [] }",
    /requests\[0\]\.ip\.range/,
  );
  rejects(
    "requests: [{ at: 0, ip: 1.2.3.4, url: { range: 10.0.0.0/8 } }]\nexpect: { commands: [] }",
    /requests\[0\]\.url\.range: range generates IP addresses/,
  );
  rejects(
    "requests: [{ at: 0, ip: 1.2.3.4, msec: '1.0' }]\nexpect: { commands: [] }",
    /requests\[0\]\.msec: is computed/,
  );
  rejects("requests: [{ at: 0, ip: 1.2.3.4 }]\n", /expect: every fixture states what it expects/);
  rejects(MINIMAL.replace("commands: []", "none_for: [not-an-ip]"), /expect\.none_for/);
  rejects("expect: { commands: [] }\n", /needs requests, log or pcap/);
  rejects("requests: [\n", /cannot parse YAML/);
});

Deno.test("parseFixture() reads config layers, log and pcap inputs relative to the file", () => {
  const f = parseFixture(
    `
domain: 7
start: 2024-01-01T00:00:00Z
config:
  settings: { tsng: { workers: 1, force_domains: [7, 8] } }
  components: { many_uas: { max_uas: 2 } }
  domain: { lm: { projections: [] } }
  domains: { "8": { lua: { enabled: false } } }
  files: { x.lua: "function deny_x(req) end" }
log: [access.log, { file: b.log, format: json, domain: 9 }]
pcap: cap.pcap
expect: { none_for: [10.0.0.0/8] }
`,
    "/fixtures/a/fixture.yaml",
  );
  assert.equal(f.domain, 7);
  assert.equal(f.start, Date.parse("2024-01-01T00:00:00Z") / 1000);
  assert.deepEqual(f.config.settings, { tsng: { workers: "1", force_domains: "7, 8" } });
  assert.deepEqual([...f.config.domains.keys()], [7, 8]);
  assert.equal(f.config.files["x.lua"], "function deny_x(req) end");
  assert.deepEqual(f.logs, [
    { file: "/fixtures/a/access.log", format: "auto", domain: 7 },
    { file: "/fixtures/a/b.log", format: "json", domain: 9 },
  ]);
  assert.deepEqual(f.pcaps, [{ file: "/fixtures/a/cap.pcap", domain: 7 }]);
  assert.equal(f.expect.commands, undefined);
  assert.ok(f.expect.noneSet?.has("10.1.2.3"));
  assert.ok(!f.expect.noneSet?.has("11.1.2.3"));
});
