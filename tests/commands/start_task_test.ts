import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { serveEndpoints } from "../../src/commands/serve_command.ts";
import { loadSettings } from "../../src/shared/config/settings.ts";
import { freePort, metricValue, waitFor } from "../_support/sensor_process.ts";
import { memcachedMissing, startMemcached } from "../sensor/memcached/_memcached_server.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MAIN = join(ROOT, "main.ts");

const noMemcached = memcachedMissing();
if (noMemcached) console.warn(`skipping deno task start with memcached: ${noMemcached}`);

/** `deno task start <args>` as an operator types it, from the repository root, no colours. */
function task(args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["task", "start", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** The child command `deno task start --print <args>` would run. */
async function printed(args: string[]): Promise<{ command: string; args: string[] }> {
  const out = await task(["--print", ...args]).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

const flag = (args: string[], name: string) => args.find((a) => a.startsWith(`${name}=`));

/** Lines of a stream that are not JSON objects (deno task's own "Task start …" line aside). */
function notJson(text: string): string[] {
  return text.split("\n").filter((line) => {
    if (line === "" || line.startsWith("Task start ")) return false;
    try {
      return typeof JSON.parse(line) !== "object";
    } catch {
      return true;
    }
  });
}

/** The ports a test configuration names. */
interface Ports {
  input: number;
  outbound: number;
  telemetry: number;
  api: number;
  syslog: number;
}

/**
 * A configuration naming every kind of endpoint on non-default ports: ZeroMQ input and outbound,
 * telemetry, API, syslog_input, and a domain whose limit_req_mc counts on memcached.
 */
async function writeConfig(
  dir: string,
  memcached: string,
): Promise<{ ini: string; ports: Ports }> {
  const ports: Ports = {
    input: freePort(),
    outbound: freePort(),
    telemetry: freePort(),
    api: freePort(),
    syslog: freePort(),
  };
  const filters = join(dir, "filters");
  await Deno.mkdir(filters, { recursive: true });
  await Deno.writeTextFile(
    join(filters, "8984.json"),
    JSON.stringify({
      lua: { enabled: false },
      limit_req_mc: { backend: "memcached", servers: [memcached], timeout_ms: 1000 },
    }),
  );
  const ini = join(dir, "qts.ini");
  await Deno.writeTextFile(
    ini,
    `[tsng]\ninput = tcp://127.0.0.1:${ports.input}\napi_server_port = ${ports.api}\n` +
      `syslog_input = udp://127.0.0.1:${ports.syslog}\nfilters_config_dir = ${filters}\n` +
      `components_config_dir =\nstate_dir = ${join(dir, "state")}\nautodiscover = false\n` +
      `workers = 1\n[tsng:qpc]\noutbound = tcp://127.0.0.1:${ports.outbound}\n` +
      `[tsng:telemetry]\noutbound = tcp://127.0.0.1:${ports.telemetry}\n`,
  );
  return { ini, ports };
}

Deno.test("deno task start --print without --config grants today's defaults", async () => {
  const { command, args } = await printed([]);
  assert.equal(command, Deno.execPath());
  assert.deepEqual(args, [
    "run",
    "--quiet",
    "--allow-net=127.0.0.1:4100,127.0.0.1:4101,127.0.0.1:4180",
    "--allow-read",
    "--allow-write=./state",
    "--allow-env=LOG_TOKENS,LOG_STREAM",
    "--allow-sys=hostname",
    MAIN,
    "serve",
  ]);
});

Deno.test("deno task start --print --config grants exactly the endpoints the INI names", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { ini, ports } = await writeConfig(dir, "127.0.0.1:11999");
    const { args } = await printed(["--config", ini]);
    assert.equal(
      flag(args, "--allow-net"),
      `--allow-net=127.0.0.1:${ports.input},127.0.0.1:${ports.outbound},` +
        `127.0.0.1:${ports.telemetry},127.0.0.1:${ports.api},127.0.0.1:${ports.syslog},` +
        `127.0.0.1:11999`,
    );
    assert.equal(flag(args, "--allow-write"), `--allow-write=${join(dir, "state")},${dir}/filters`);
    assert.deepEqual(args.slice(-3), ["serve", "--config", ini]);
    assert.equal(args.filter((a) => a.startsWith("--allow-")).length, 5, args.join(" "));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serveEndpoints() spells wildcard and IPv6 binds and collects memcached servers", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "filters"));
    await Deno.mkdir(join(dir, "components"));
    // Global: response_status on memcached. Domain 1: its own limit_req_mc server; domain 2
    // lists a server with the local backend, which is never contacted.
    await Deno.writeTextFile(
      join(dir, "components", "response_status.yaml"),
      "backend: memcached\nservers: [mc-a.example:11211, 127.0.0.1:4100]\n",
    );
    await Deno.writeTextFile(
      join(dir, "filters", "1.json"),
      JSON.stringify({ limit_req_mc: { backend: "memcached", servers: ["mc-b.example:11212"] } }),
    );
    await Deno.writeTextFile(
      join(dir, "filters", "2.json"),
      JSON.stringify({ limit_req_mc: { backend: "local", servers: ["mc-c.example:1"] } }),
    );
    const settings = loadSettings(
      `[tsng]\nallow_insecure_bind = true\ninput = tcp://*:4100\napi_server_host = ::1\napi_server_port = 4180\n` +
        `filters_config_dir = ${join(dir, "filters")}\n` +
        `components_config_dir = ${join(dir, "components")}\n` +
        `[tsng:qpc]\noutbound = tcp://[::1]:4101\n`,
      "t.ini",
    );
    assert.deepEqual(await serveEndpoints(settings), [
      { host: "0.0.0.0:4100", setting: "[tsng] input" },
      { host: "[::1]:4101", setting: "[tsng:qpc] outbound" },
      { host: "[::1]:4180", setting: "[tsng] api_server_host, api_server_port" },
      { host: "mc-a.example:11211", setting: "response_status.servers (components)" },
      { host: "127.0.0.1:4100", setting: "response_status.servers (components)" },
      { host: "mc-b.example:11212", setting: "limit_req_mc.servers (domain 1)" },
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "deno task start --config serves syslog_input and a memcached limit_req_mc, JSON lines",
  ignore: noMemcached !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    const memcached = await startMemcached();
    const { ini, ports } = await writeConfig(dir, memcached.server);
    const child = task(["--config", ini]).spawn();
    const decoder = new TextDecoder();
    let stderr = "";
    const serving = Promise.withResolvers<void>();
    const reading = (async () => {
      for await (const chunk of child.stderr) {
        stderr += decoder.decode(chunk, { stream: true });
        if (stderr.includes('"msg":"qts serving"')) serving.resolve();
      }
      serving.reject(new Error(`exited before serving:\n${stderr}`));
    })();
    const stdout = new Response(child.stdout).text();
    const udp = createSocket("udp4");
    const api = `http://127.0.0.1:${ports.api}`;
    try {
      const timer = setTimeout(() => serving.reject(new Error(`not serving:\n${stderr}`)), 30_000);
      await serving.promise.finally(() => clearTimeout(timer));
      const health = await (await fetch(`${api}/healthz`)).json();
      assert.equal(health.status, "success");

      // One line as nginx sends it with config/nginx/qts.conf, and one that is not JSON.
      const line = `<190>Nov 26 12:00:00 qts: ${
        JSON.stringify({
          msec: (Date.now() / 1000).toFixed(3),
          remote_addr: "198.51.100.7",
          domain: "8984",
          method: "GET",
          url: "/",
          host: "example.com",
          status: "200",
        })
      }`;
      await new Promise<void>((ok) => udp.bind(0, "127.0.0.1", ok));
      for (const text of [line, "<190>Nov 26 12:00:00 qts: not json"]) {
        await new Promise<void>((ok, fail) =>
          udp.send(
            new TextEncoder().encode(text),
            ports.syslog,
            "127.0.0.1",
            (e) => e ? fail(e) : ok(),
          )
        );
      }
      const metrics = await waitFor("the line to pass the chain", async () => {
        const text = await (await fetch(`${api}/metrics`)).text();
        const shared = metricValue(
          text,
          'qts_filter_counter_total{domain="8984",filter="limit_req_mc",counter="shared"}',
        );
        return (shared ?? 0) >= 1 ? text : undefined;
      });
      assert.equal(metricValue(metrics, "qts_syslog_datagrams_total"), 2);
      assert.equal(metricValue(metrics, "qts_syslog_records_total"), 1);
      assert.equal(metricValue(metrics, 'qts_syslog_rejected_total{reason="no_json"}'), 1);
      assert.equal(metricValue(metrics, 'qts_syslog_rejected_total{reason="bad_json"}'), 0);
      assert.equal(metricValue(metrics, 'qts_records_total{domain="8984"}'), 1);
      assert.equal(
        metricValue(
          metrics,
          'qts_filter_counter_total{domain="8984",filter="limit_req_mc",counter="fallback"}',
        ) ?? 0,
        0,
      );
    } finally {
      udp.close();
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const status = await child.status;
      await reading.catch(() => {});
      await memcached.stop();
      await Deno.remove(dir, { recursive: true });
      assert.equal(status.code, 0, stderr);
    }
    assert.match(stderr, /"msg":"stopped"/);
    assert.deepEqual(notJson(stderr), []);
    assert.deepEqual(notJson(await stdout), []);
  },
});

Deno.test({
  name: "qts serve with a narrower --allow-net prints one JSON line naming the endpoint, exit 2",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const { ini, ports } = await writeConfig(dir, "127.0.0.1:11999");
      const granted = [ports.input, ports.outbound, ports.telemetry, ports.api, 11999];
      const run = async (allowNet: number[]) => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            `--allow-net=${allowNet.map((p) => `127.0.0.1:${p}`).join(",")}`,
            "--allow-read",
            `--allow-write=${dir}`,
            "--allow-env=LOG_TOKENS,LOG_STREAM",
            "--allow-sys=hostname",
            MAIN,
            "serve",
            "--config",
            ini,
          ],
          env: { NO_COLOR: "1" },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        const lines = new TextDecoder().decode(out.stderr).split("\n").filter((l) => l !== "");
        assert.equal(out.code, 2, lines.join("\n"));
        assert.equal(out.stdout.length, 0);
        assert.equal(lines.length, 1, lines.join("\n"));
        return JSON.parse(lines[0]!);
      };
      // syslog_input left out: named with its setting and the flag to add.
      const syslog = await run(granted);
      assert.equal(syslog.level, "error");
      assert.equal(syslog.endpoint, `127.0.0.1:${ports.syslog}`);
      assert.equal(syslog.setting, "[tsng] syslog_input");
      assert.equal(syslog.flag, `--allow-net=…,127.0.0.1:${ports.syslog}`);
      assert.match(syslog.msg, new RegExp(`127\\.0\\.0\\.1:${ports.syslog}.*--allow-net`));
      // The memcached peer left out: refused at start too, not at the first request.
      const peer = await run([...granted.slice(0, -1), ports.syslog]);
      assert.equal(peer.endpoint, "127.0.0.1:11999");
      assert.equal(peer.setting, "limit_req_mc.servers (domain 8984)");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
