import assert from "node:assert/strict";
import { tractorCommand } from "../../../src/commands/tractor_command.ts";

function quiet<T>(fn: () => Promise<T>): Promise<T> {
  const { log, error } = console;
  console.log = () => {};
  console.error = () => {};
  return fn().finally(() => {
    console.log = log;
    console.error = error;
  });
}

Deno.test("tractorCommand() answers --help with 0 and a bad command line with 2", async () => {
  assert.equal(await quiet(() => tractorCommand(["--help"])), 0);
  assert.equal(await quiet(() => tractorCommand([])), 2);
  assert.equal(await quiet(() => tractorCommand(["--captures", "x"])), 2);
  assert.equal(await quiet(() => tractorCommand(["--bogus"])), 2);
  for (const listen of ["4280", "127.0.0.1", "127.0.0.1:99999", "[::1]4280"]) {
    assert.equal(
      await quiet(() => tractorCommand(["--captures", ".", "--state", ".", "--listen", listen])),
      2,
      listen,
    );
  }
  assert.equal(
    await quiet(() => tractorCommand(["--captures", ".", "--state", ".", "--workers", "0"])),
    2,
  );
});

Deno.test("tractorCommand() exits 1 naming a captures directory that does not exist", async () => {
  const lines: string[] = [];
  const { error } = console;
  console.error = (s: string) => lines.push(s);
  try {
    const code = await tractorCommand([
      "--captures",
      "/nonexistent/qts-captures",
      "--state",
      "/nonexistent/qts-state",
    ]);
    assert.equal(code, 1);
  } finally {
    console.error = error;
  }
  assert.match(lines.join("\n"), /\/nonexistent\/qts-captures/);
});
