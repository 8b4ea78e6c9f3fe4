import assert from "node:assert/strict";
import { allowedNet, type BuildInfo, netRefusalHint } from "../../src/shared/build_info.ts";
import { main } from "../../main.ts";

const COMPILED: BuildInfo = {
  version: "0.1.0",
  commit: "0123456789abcdef0123456789abcdef01234567",
  date: "2025-01-02T03:04:05Z",
  deno: "2.9.6",
  permissions: ["--allow-net=127.0.0.1,localhost,10.0.0.5:11211", "--allow-read"],
  config: "/etc/qts/qts.ini",
  compiled: true,
};

Deno.test("netRefusalHint() names the flag under deno run and the rebuild when compiled", () => {
  assert.equal(
    netRefusalHint(["10.0.0.6:11211"], { ...COMPILED, permissions: [], compiled: false }),
    "add it to --allow-net (--allow-net=…,10.0.0.6:11211)",
  );
  const hint = netRefusalHint(["10.0.0.6:11211"], COMPILED);
  assert.match(hint, /fixed at build time \(--allow-net=127\.0\.0\.1,localhost,10\.0\.0\.5:11211,/);
  assert.match(hint, /derived from \/etc\/qts\/qts\.ini/);
  assert.match(hint, /deno task compile --config \/etc\/qts\/qts\.ini --net 10\.0\.0\.6:11211/);
  assert.match(hint, /replace the binary$/);
  assert.deepEqual(allowedNet(COMPILED), ["127.0.0.1", "localhost", "10.0.0.5:11211"]);
});

Deno.test("qts version prints dev build facts under deno run", async () => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (line: string) => lines.push(line);
  try {
    assert.equal(await main(["version", "--json"]), 0);
    assert.equal(await main(["version"]), 0);
  } finally {
    console.log = log;
  }
  const info = JSON.parse(lines[0]!);
  assert.equal(info.compiled, false);
  assert.equal(info.commit, "dev");
  assert.equal(info.date, "dev");
  assert.equal(info.runtime, Deno.version.deno);
  assert.match(lines.slice(1).join("\n"), /^version {6}\d+\.\d+\.\d+$/m);
  assert.match(lines.slice(1).join("\n"), /^commit {7}dev$/m);
});
