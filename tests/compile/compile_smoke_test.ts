import assert from "node:assert/strict";
import { join } from "node:path";
import { COMPILE_FLAGS, compileArgs } from "../../scripts/compile.ts";

// `deno compile` downloads its runtime (denort) unless cached; where that download cannot
// happen, the smoke test says why and stops, instead of failing on the network.
Deno.test("deno compile builds a qts binary that runs --version and check-config", async () => {
  const dir = await Deno.makeTempDir();
  const output = join(dir, "qts");
  const result = await new Deno.Command(Deno.execPath(), {
    args: compileArgs(output),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(result.stderr);
  if (!result.success) {
    if (/dns error|download|denort|Name or service not known|network/i.test(stderr)) {
      console.warn(
        `compile smoke test skipped: deno compile could not fetch its runtime here (${
          // deno-lint-ignore no-control-regex -- strips the terminal colours of deno's errors
          stderr.replace(/\x1b\[[0-9;]*m/g, "").split("\n").map((l) => l.trim())
            .filter((l) => /dns error|download|Name or service|denort/i.test(l)).join("; ")})`,
      );
      return;
    }
    assert.fail(`deno compile failed:\n${stderr}`);
  }
  const version = await new Deno.Command(output, { args: ["--version"] }).output();
  assert.ok(version.success);
  assert.match(new TextDecoder().decode(version.stdout), /^qts \d+\.\d+\.\d+/);
  const check = await new Deno.Command(output, { args: ["check-config"], stderr: "piped" })
    .output();
  assert.ok(check.success, "the embedded default.conf must validate inside the binary");
});

Deno.test("deno task compile uses the binary's explicit permission set", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const task = String(config.tasks.compile);
  assert.equal(task, `deno compile ${COMPILE_FLAGS.join(" ")} --output dist/qts main.ts`);
  assert.ok(!/\s(-A|--allow-all)\b/.test(task));
});
