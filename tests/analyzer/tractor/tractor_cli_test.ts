import assert from "node:assert/strict";
import { tractorCommand } from "../../../src/commands/tractor_command.ts";
import { freePort } from "../../_support/sensor_process.ts";

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

Deno.test("qts tractor --store: a URL that is not postgres:// or a server that does not answer exits 1, never printing the password", async () => {
  const root = await Deno.makeTempDir({ prefix: "qts-tractor-store-cli-" });
  const lines: string[] = [];
  const { error, log } = console;
  console.error = (s: string) => lines.push(s);
  console.log = (s: string) => lines.push(s);
  try {
    assert.equal(
      await tractorCommand(["--captures", root, "--store", "mysql://u:hunter2@127.0.0.1/db"]),
      1,
    );
    assert.match(lines.join("\n"), /Invalid store .*expected postgres:\/\/user@host:port\/db/);
    // No --state needed with --store; nothing listens on this port.
    const port = freePort();
    lines.length = 0;
    const url = `postgres://qts:hunter2@127.0.0.1:${port}/tractor`;
    assert.equal(
      await tractorCommand(["--captures", root, "--store", url, "--listen", "127.0.0.1:0"]),
      1,
    );
    const said = lines.join("\n");
    assert.match(
      said,
      new RegExp(
        `Cannot connect to PostgreSQL postgres://qts:\\*\\*\\*@127\\.0\\.0\\.1:${port}/tractor`,
      ),
    );
    assert.doesNotMatch(said, /hunter2/);
  } finally {
    console.error = error;
    console.log = log;
    await Deno.remove(root, { recursive: true });
  }
});
