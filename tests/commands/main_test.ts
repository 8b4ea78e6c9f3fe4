import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { VERSION } from "../../src/shared/version.ts";

async function quietly(
  fn: () => Promise<number>,
): Promise<{ code: number; out: string; err: string }> {
  const log = console.log;
  const error = console.error;
  let out = "";
  let err = "";
  console.log = (...args: unknown[]) => void (out += args.join(" ") + "\n");
  console.error = (...args: unknown[]) => void (err += args.join(" ") + "\n");
  try {
    return { code: await fn(), out, err };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("main() prints the version", async () => {
  const { code, out } = await quietly(() => main(["--version"]));
  assert.equal(code, 0);
  assert.equal(out.trim(), `qts ${VERSION}`);
});

Deno.test("main() rejects an unknown command with usage on stderr and exit 2", async () => {
  const { code, err } = await quietly(() => main(["frobnicate"]));
  assert.equal(code, 2);
  assert.match(err, /unknown command "frobnicate"/);
  assert.match(err, /Usage: qts <command>/);
});

Deno.test("main() with no command prints usage and exits 2", async () => {
  const { code, out } = await quietly(() => main([]));
  assert.equal(code, 2);
  assert.match(out, /Commands:/);
});

for (
  const command of ["serve", "replay", "analyze", "tractor", "model", "bouncer", "check-config"]
) {
  Deno.test(`main() ${command} --help exits 0 with a usage text`, async () => {
    const { code, out } = await quietly(() => main([command, "--help"]));
    assert.equal(code, 0);
    assert.match(out, /Usage:\s+qts/);
  });
}

for (
  const command of ["serve", "replay", "analyze", "tractor", "model", "bouncer", "check-config"]
) {
  Deno.test(`main() ${command} rejects an unknown flag with exit 2`, async () => {
    const { code, err } = await quietly(() => main([command, "--no-such-flag"]));
    assert.equal(code, 2);
    assert.ok(err.length > 0);
  });
}
