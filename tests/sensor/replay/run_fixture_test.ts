import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { replayCommand } from "../../../src/commands/replay_command.ts";
import { runFixture, withExpectedCommands } from "../../../src/sensor/replay/run_fixture.ts";

const FIXTURES = fileURLToPath(new URL("../../fixtures/", import.meta.url));

const FIXTURE = `# a comment that --update keeps
description: >
  A black-listed address is banned on its first request.
config:
  domain:
    fixed_lists:
      lists: [{ name: bad, type: black, entries: [198.51.100.0/24] }]
    lm:
      use_component_projections: false
      projections:
        - { name: f, events: ^fixed_, rule_name: tsng.f, state: enabled, timeout: 60 }
requests:
  - { at: 3, ip: 198.51.100.5, repeat: { count: 3, every: 1 } }
  - { at: 4, ip: 192.0.2.5 }
expect:
  commands:
    - { at: 3, method: add, ip_addr: 198.51.100.6, comment: fixed_bad }
  none_for: [192.0.2.5]
`;

async function tempFixture(text: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "qts-fixture-" });
  const file = join(dir, "fixture.yaml");
  await Deno.writeTextFile(file, text);
  return file;
}

Deno.test({
  name: "runFixture() fails a wrong expectation with a readable diff; --update fixes it",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const file = await tempFixture(FIXTURE);
    try {
      const wrong = await runFixture(file);
      assert.equal(wrong.ok, false);
      assert.equal(wrong.records, 4);
      assert.deepEqual(wrong.report, [
        '  - [0] {at: 3, method: "add", ip_addr: "198.51.100.6", comment: "fixed_bad"}',
        '  + [0] {at: 3, method: "add", ip_addr: "198.51.100.5", comment: "fixed_bad"}',
        "          differs in: ip_addr",
      ]);
      const updated = await runFixture(file, { update: true });
      assert.equal(updated.updated, true);
      const text = await Deno.readTextFile(file);
      assert.ok(text.startsWith("# a comment that --update keeps\ndescription: >\n"));
      assert.match(
        text,
        / {4}- \{ at: 3, method: add, ip_addr: 198\.51\.100\.5, rule_name: tsng\.f, comment: fixed_bad, timeout: 60 \}\n {2}none_for: \[192\.0\.2\.5\]\n$/,
      );
      assert.equal((await runFixture(file)).ok, true);
    } finally {
      await Deno.remove(join(file, ".."), { recursive: true });
    }
  },
});

Deno.test("withExpectedCommands() replaces only the command list", () => {
  const text = "expect:\n  # why\n  commands: []\n  none_for: [1.2.3.4]\n";
  assert.equal(
    withExpectedCommands(text, [{ at: 1, ip_addr: "1.2.3.5" }]),
    "expect:\n  # why\n  commands:\n    - { at: 1, ip_addr: 1.2.3.5 }\n  none_for: [1.2.3.4]\n",
  );
  assert.equal(
    withExpectedCommands("expect:\n  commands:\n    - { at: 1 }\n    - { at: 2 }\n", []),
    "expect:\n  commands: []\n",
  );
});

Deno.test({
  name: "qts replay: a 30-minute scenario replays in seconds (printed, not asserted)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const r = await runFixture(join(FIXTURES, "scenario-credential-stuffing", "fixture.yaml"));
    console.log(
      `    ${(r.virtualSeconds / 60).toFixed(1)} min of traffic, ${r.records} records, ` +
        `${r.commands.length} commands in ${(r.wallMs / 1000).toFixed(2)} s wall time`,
    );
    assert.ok(r.virtualSeconds >= 30 * 60);
    assert.equal(r.ok, true, r.report.join("\n"));
  },
});

Deno.test({
  name: "replayCommand() exit codes: 0 all pass, 1 on a failing fixture, 2 on bad usage",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const good = await tempFixture(FIXTURE.replace("198.51.100.6", "198.51.100.5"));
    const bad = await tempFixture(FIXTURE);
    const { log, error } = console;
    const lines: string[] = [];
    console.log = (...args: unknown[]) => lines.push(args.join(" "));
    console.error = () => {};
    try {
      assert.equal(await replayCommand([good]), 0);
      assert.equal(await replayCommand([join(good, ".."), bad]), 1);
      assert.equal(await replayCommand(["--bogus"]), 2);
      assert.equal(await replayCommand([]), 2);
      assert.equal(await replayCommand(["/nonexistent/dir"]), 2);
    } finally {
      console.log = log;
      console.error = error;
      await Deno.remove(join(good, ".."), { recursive: true });
      await Deno.remove(join(bad, ".."), { recursive: true });
    }
    assert.ok(lines.some((l) => /^ok {3}.*fixture\.yaml \(4 records, 1 commands/.test(l)));
    assert.ok(lines.some((l) => /^FAIL .*fixture\.yaml/.test(l)));
    assert.ok(
      lines.includes("1 of 2 fixtures passed") || lines.some((l) => l.startsWith("1 of 2")),
    );
  },
});
