import assert from "node:assert/strict";
import {
  loadSettings,
  parseEndpoint,
  parseSettings,
  SettingsError,
} from "../../../src/shared/config/settings.ts";

Deno.test("parseSettings() gives loopback defaults for an empty file", () => {
  const { settings, problems } = parseSettings("", "empty.ini");
  assert.deepEqual(problems, []);
  assert.equal(settings.input.text, "tcp://127.0.0.1:4100");
  assert.equal(settings.force_domains, "*");
  assert.equal(settings.api_server_host, "127.0.0.1");
  assert.equal(settings.qpc_outbound.port, 4101);
});

Deno.test("parseSettings() reads the commented example config/qts.ini", async () => {
  const text = await Deno.readTextFile(new URL("../../../config/qts.ini", import.meta.url));
  const { settings, problems } = parseSettings(text, "qts.ini");
  assert.deepEqual(problems, []);
  assert.deepEqual(settings.force_domains, [8984, 8985]);
  assert.deepEqual(settings.filters_config_dir, ["/etc/qts/filters", "/var/lib/qts/filters"]);
});

Deno.test("parseSettings() strips inline ; comments as in SPEC §3", () => {
  const { settings, problems } = parseSettings(
    "[tsng]\ninput = tcp://127.0.0.1:4200        ; records\nworkers = 3 ; two\n",
    "x.ini",
  );
  assert.deepEqual(problems, []);
  assert.equal(settings.input.port, 4200);
  assert.equal(settings.workers, 3);
});

Deno.test("loadSettings() rejects a non-numeric port naming the key", () => {
  assert.throws(() => loadSettings("[tsng]\napi_server_port = http\n", "bad.ini"), (e) => {
    assert.ok(e instanceof SettingsError);
    assert.match(e.message, /bad\.ini: \[tsng\] api_server_port: "http" is not a whole number/);
    return true;
  });
});

Deno.test("loadSettings() rejects an unknown socket type naming the key", () => {
  assert.throws(() => loadSettings("[tsng]\ninput_socket = router\n", "bad.ini"), {
    message: /\[tsng\] input_socket: "router" is not one of pull, sub/,
  });
});

Deno.test("loadSettings() requires api_token for a non-loopback API address", () => {
  assert.throws(() => loadSettings("[tsng]\napi_server_host = 0.0.0.0\n", "x.ini"), {
    message: /api_token: required when api_server_host \(0\.0\.0\.0\)/,
  });
  const ok = loadSettings("[tsng]\napi_server_host = 0.0.0.0\napi_token = s3cret\n", "x.ini");
  assert.equal(ok.api_token, "s3cret");
});

Deno.test("parseSettings() warns about unknown keys and sections without failing", () => {
  const { problems } = parseSettings("[tsng]\nfoo = 1\n[other]\nx = 2\n", "x.ini");
  assert.equal(problems.length, 2);
  assert.ok(problems.every((p) => p.severity === "warning"));
});

Deno.test("parseSettings() collects every bad value at once", () => {
  const { problems } = parseSettings(
    "[tsng]\ninput = udp://x\nforce_domains = 1, abc\nautodiscover = maybe\n",
    "x.ini",
  );
  const keys = problems.map((p) => p.key).sort();
  assert.deepEqual(keys, ["[tsng] autodiscover", "[tsng] force_domains", "[tsng] input"]);
});

Deno.test("parseEndpoint() accepts IPv6 and * hosts and rejects bad ports", () => {
  assert.deepEqual(parseEndpoint("tcp://[::1]:5555"), {
    text: "tcp://[::1]:5555",
    host: "[::1]",
    port: 5555,
  });
  assert.equal(parseEndpoint("tcp://*:4100").host, "*");
  assert.throws(() => parseEndpoint("tcp://127.0.0.1:70000"), TypeError);
  assert.throws(() => parseEndpoint("ipc:///tmp/x"), TypeError);
});

Deno.test("parseSettings() calls a section named like an Object.prototype member unknown (fuzz find)", () => {
  for (const section of ["constructor", "toString", "hasOwnProperty", "valueOf"]) {
    const { problems } = parseSettings(`[${section}]\na = 1\n`, "f.ini");
    assert.deepEqual(
      problems.map((p) => [p.key, p.message]),
      [[`[${section}]`, "unknown section"]],
      section,
    );
  }
});
