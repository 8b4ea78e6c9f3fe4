/**
 * Replay's inputs decide alike: every scenario, detection and log fixture replayed through
 * loopback ZeroMQ (the socket path a proxy uses, whose drains run as chain batches like
 * `qts serve`), through it with each record run alone, and handed to the sensor's ingest step
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

/** The socket runs' chain runs over every fixture. */
const batched = { batches: 0, records: 0 };

for (const name of dirs) {
  Deno.test({
    name:
      `runFixture() ${name}: batched and one-at-a-time socket input and direct input give the same commands`,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const file = join(FIXTURES, name, "fixture.yaml");
      const socket = await runFixture(file, { input: "socket" });
      const single = await runFixture(file, { input: "socket", batchInput: false });
      const direct = await runFixture(file, { input: "direct" });
      assert.ok(socket.ok, `${name} (socket):\n${socket.report.join("\n")}`);
      assert.ok(single.ok, `${name} (socket, one at a time):\n${single.report.join("\n")}`);
      assert.ok(direct.ok, `${name} (direct):\n${direct.report.join("\n")}`);
      assert.equal(direct.records, socket.records);
      assert.deepEqual(single.commands, socket.commands);
      assert.deepEqual(direct.commands, socket.commands);
      // One at a time means one chain run per record; batched, runs carry the records at hand.
      assert.equal(single.chainRuns.batches, single.chainRuns.records);
      assert.equal(socket.chainRuns.records, single.chainRuns.records);
      batched.batches += socket.chainRuns.batches;
      batched.records += socket.chainRuns.records;
    },
  });
}

Deno.test("the socket input ran the fixtures' records in batches of more than one", () => {
  assert.ok(
    batched.records > 2 * batched.batches,
    `${batched.records} records in ${batched.batches} chain runs`,
  );
});
