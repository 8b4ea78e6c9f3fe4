/**
 * Replay's two inputs decide alike: every scenario, detection and log fixture replayed through
 * loopback ZeroMQ (the socket path a proxy uses) and handed to the sensor's ingest step
 * directly (`qts replay --log`'s path) yields the same commands, field for field.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runFixture } from "../../../src/sensor/replay/run_fixture.ts";

const FIXTURES = fileURLToPath(new URL("../../fixtures/", import.meta.url));

const dirs = [...Deno.readDirSync(FIXTURES)]
  .filter((e) => e.isDirectory && /^(scenario|detection|log)-/.test(e.name))
  .map((e) => e.name)
  .sort();

Deno.test("the scenario, detection and log fixtures are found", () => {
  assert.ok(dirs.some((d) => d.startsWith("scenario-")));
  assert.ok(dirs.some((d) => d.startsWith("detection-")));
  assert.ok(dirs.some((d) => d.startsWith("log-")));
});

for (const name of dirs) {
  Deno.test({
    name: `runFixture() ${name}: direct input gives the socket input's commands`,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const file = join(FIXTURES, name, "fixture.yaml");
      const socket = await runFixture(file, { input: "socket" });
      const direct = await runFixture(file, { input: "direct" });
      assert.ok(socket.ok, `${name} (socket):\n${socket.report.join("\n")}`);
      assert.ok(direct.ok, `${name} (direct):\n${direct.report.join("\n")}`);
      assert.equal(direct.records, socket.records);
      assert.deepEqual(direct.commands, socket.commands);
    },
  });
}
