/**
 * Every fixture directory in tests/fixtures/ (those with a fixture.yaml) as its own test: the
 * same check `deno task replay tests/fixtures` makes, inside `deno task test`.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runFixture } from "../../../src/sensor/replay/run_fixture.ts";

const FIXTURES = fileURLToPath(new URL("../../fixtures/", import.meta.url));

const dirs = [...Deno.readDirSync(FIXTURES)]
  .filter((e) => e.isDirectory)
  .map((e) => e.name)
  .filter((name) => {
    try {
      return Deno.statSync(join(FIXTURES, name, "fixture.yaml")).isFile;
    } catch {
      return false;
    }
  })
  .sort();

for (const name of dirs) {
  Deno.test({
    name: `fixture ${name}`,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const result = await runFixture(join(FIXTURES, name, "fixture.yaml"));
      assert.ok(result.ok, `${name}:\n${result.report.join("\n")}`);
    },
  });
}
