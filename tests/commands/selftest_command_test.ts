import assert from "node:assert/strict";
import { join } from "node:path";
import {
  selftest,
  SELFTEST_CHECKS,
  type SelftestCheck,
  type SelftestCheckName,
  type SelftestResult,
} from "../../src/commands/selftest_command.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
/**
 * The compiled binary's permissions (scripts/compile.ts, `compilePermissions()` with the default
 * network list): the subprocess runs with no more than an operator's copy has on the target host.
 */
const BINARY_PERMISSIONS = [
  "--allow-net=127.0.0.1,localhost,[::1],0.0.0.0,[::]",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys=hostname,osRelease,loadavg",
  "--allow-run=nft,ip,tcpdump",
];
const GEO = new URL("../fixtures/geo/test-country.mmdb", import.meta.url).pathname;

function byName(checks: readonly SelftestResult[]): Record<string, SelftestResult> {
  return Object.fromEntries(checks.map((c) => [c.name, c]));
}

async function iniFile(text: string): Promise<{ file: string; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "qts-selftest-test-" });
  const file = join(dir, "qts.ini");
  await Deno.writeTextFile(file, text);
  return { file, dir };
}

Deno.test("selftest() passes every check under deno run, skipping settings and GeoIP without --config", async () => {
  const seen: string[] = [];
  const report = await selftest({ onResult: (r) => seen.push(r.name) });
  const checks = byName(report.checks);
  assert.deepEqual(seen, [...SELFTEST_CHECKS], "each check reported as it ends, in order");
  for (const name of SELFTEST_CHECKS) {
    const expected = name === "settings" || name === "geoip" ? "skip" : "ok";
    assert.equal(checks[name]?.result, expected, `${name}: ${checks[name]?.detail}`);
  }
  assert.equal(report.ok, true);
  assert.match(checks.lua!.detail, /lua_bad_method/);
  assert.match(checks.worker!.detail, /fixed_selftest/);
  assert.match(checks.replay!.detail, /1 command: add 203\.0\.113\.66 tsng\.selftest/);
  assert.match(checks.classifier!.detail, /"http" by signature/);
});

Deno.test("selftest() loads --config settings and opens the GeoIP database they name", async () => {
  const { file, dir } = await iniFile(`[tsng]\ngeoip_db = ${GEO}\n`);
  try {
    const report = await selftest({ settingsFile: file });
    const checks = byName(report.checks);
    assert.equal(report.ok, true, JSON.stringify(report.checks));
    assert.equal(checks.settings?.result, "ok");
    assert.equal(checks.geoip?.result, "ok");
    assert.match(checks.geoip!.detail, /198\.51\.100\.7 → "US"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("selftest() names the lua check when default.lua is broken, and the others still pass", async () => {
  const report = await selftest({
    deps: { readLuaScript: () => Promise.resolve("function deny_x(req) return req.url ==") },
  });
  const checks = byName(report.checks);
  assert.equal(report.ok, false);
  assert.equal(checks.lua?.result, "FAIL");
  assert.match(checks.lua!.detail, /Cannot build lua: script "default\.lua": syntax/);
  const failed = report.checks.filter((c) => c.result === "FAIL").map((c) => c.name);
  assert.deepEqual(failed, ["lua"]);
});

Deno.test("selftest() names the re2 check when the regex engine fails", async () => {
  const report = await selftest({
    deps: {
      compileRegex: () => {
        throw new Error("RE2 WebAssembly module missing");
      },
    },
  });
  const checks = byName(report.checks);
  assert.equal(report.ok, false);
  assert.equal(checks.re2?.result, "FAIL");
  assert.equal(checks.re2?.detail, "RE2 WebAssembly module missing");
});

Deno.test("selftest() fails a hung check by name after its time limit and goes on", async () => {
  const quick: SelftestCheck = () => Promise.resolve("fine");
  const checks = Object.fromEntries(SELFTEST_CHECKS.map((n) => [n, quick])) as Record<
    SelftestCheckName,
    SelftestCheck
  >;
  checks.worker = () => new Promise<string>(() => {});
  const report = await selftest({ checks, timeoutMs: 50 });
  const results = byName(report.checks);
  assert.equal(report.ok, false);
  assert.equal(results.worker?.result, "FAIL");
  assert.equal(results.worker?.detail, "timed out after 50 ms");
  assert.equal(results.replay?.result, "ok", "the checks after it still run");
});

async function runMain(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...BINARY_PERMISSIONS, join(ROOT, "main.ts"), ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: result.code, out: text.decode(result.stdout), err: text.decode(result.stderr) };
}

Deno.test("qts selftest through main.ts prints a row per check and exits 0", async () => {
  const { code, out, err } = await runMain(["selftest"]);
  assert.equal(code, 0, out + err);
  const lines = out.trimEnd().split("\n");
  assert.match(lines[0]!, /^CHECK\s+RESULT\s+TIME\s+DETAIL$/);
  for (const name of SELFTEST_CHECKS) {
    const skip = name === "settings" || name === "geoip";
    assert.match(
      out,
      new RegExp(`^${name}\\s+${skip ? "skip" : "ok"}\\s+\\d+ ms\\s+\\S`, "m"),
      `${name} row in:\n${out}`,
    );
  }
  assert.match(lines.at(-1)!, /^7 ok, 2 skipped, 0 failed$/);
});

Deno.test("qts selftest through main.ts names the failing check and exits 1", async () => {
  const { file, dir } = await iniFile(`[tsng]\ngeoip_db = /nonexistent/qts-selftest.mmdb\n`);
  try {
    const { code, out, err } = await runMain(["selftest", "--config", file]);
    assert.equal(code, 1, out + err);
    assert.match(out, /^settings\s+ok\s/m);
    assert.match(out, /^geoip\s+FAIL\s+\d+ ms\s+Cannot open GeoIP database .*no such file/m);
    assert.match(out, /^8 ok, 0 skipped, 1 failed \(geoip\)$/m);
    const json = await runMain(["selftest", "--config", file, "--json"]);
    assert.equal(json.code, 1);
    const report = JSON.parse(json.out) as { ok: boolean; checks: SelftestResult[] };
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.checks.filter((c) => c.result === "FAIL").map((c) => c.name),
      ["geoip"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
