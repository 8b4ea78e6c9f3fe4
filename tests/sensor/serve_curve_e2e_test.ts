import assert from "node:assert/strict";
import { join } from "node:path";
import { Bouncer } from "../../src/sensor/bouncer/bouncer.ts";
import { emptyRecord, encodeHeader, encodeRecord } from "../../src/sensor/wire/mod.ts";
import { curveKeyPair } from "../../src/sensor/zmtp/mod.ts";
import { parseIPv4 } from "../../src/shared/net/ip.ts";
import { pyzmqAvailable } from "../_support/pyzmq_available.ts";
import { libzmqKeyPair, type PyzmqPeer, pyzmqPeer } from "../_support/pyzmq_peer.ts";
import {
  freePort,
  metricValue,
  outboundSubscribed,
  serveArgs,
  startSensor,
} from "../_support/sensor_process.ts";
import { BouncerWaiter, MemoryNft } from "./bouncer/_bouncer_support.ts";

const skip = pyzmqAvailable();
if (skip) console.warn(`skipping the CURVE sensor end-to-end test: ${skip}`);

function message(domain: number, ip: string, at: number): Uint8Array[] {
  const record = {
    ...emptyRecord(),
    timestamp: Math.floor(at),
    msec: at.toFixed(3),
    remote_ip: parseIPv4(ip)!,
    method: "GET",
    url: "/",
    host: "example.com",
    http_user_agent: "Mozilla/5.0",
  };
  return [encodeHeader(domain), encodeRecord(record)];
}

/** Domain 8984: 198.51.100.0/24 black-listed, banned by rule tsng.fixed. */
const DOMAIN = {
  fixed_lists: { lists: [{ name: "bad", type: "black", entries: ["198.51.100.0/24"] }] },
  limit_req_mc: { enabled: false },
  lua: { enabled: false },
  lm: {
    use_component_projections: false,
    projections: [
      {
        name: "bad",
        events: "^fixed_bad$",
        rule_name: "tsng.fixed",
        state: "enabled",
        timeout: 86400,
      },
    ],
  },
};

/** A CURVE key pair whose public key has (`has` true) or lacks the character `c`. */
function keyPairWithout(c: string, has = false): ReturnType<typeof curveKeyPair> {
  for (;;) {
    const pair = curveKeyPair();
    if (pair.publicKey.includes(c) === has) return pair;
  }
}

/** A sensor's settings under `dir`: its own ports, domain 8984, `extra` lines per section. */
async function writeIni(
  dir: string,
  o: { input: string; outbound: string; tsng?: string; qpc?: string },
): Promise<string> {
  await Deno.mkdir(join(dir, "filters"), { recursive: true });
  await Deno.writeTextFile(join(dir, "filters", "8984.json"), JSON.stringify(DOMAIN));
  const ini = join(dir, "qts.ini");
  await Deno.writeTextFile(
    ini,
    `[tsng]\ninput = ${o.input}\nforce_domains = 8984\napi_server_port = ${freePort()}\n` +
      `filters_config_dir = ${join(dir, "filters")}\n` +
      `components_config_dir = ${join(dir, "components")}\nstate_dir = ${join(dir, "state")}\n` +
      `autodiscover = false\nworkers = 0\nhostname = curve-host\n${o.tsng ?? ""}` +
      `[tsng:qpc]\noutbound = ${o.outbound}\n${o.qpc ?? ""}`,
  );
  return ini;
}

Deno.test({
  name:
    "qts serve with CURVE on input and outbound: a libzmq CURVE proxy's record banned, read by a CURVE bouncer; an unknown proxy key delivers nothing",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    // The sensor's two key pairs made here, the proxies' by libzmq itself, the bouncer's here.
    const input = curveKeyPair();
    const outbound = curveKeyPair();
    // Keys with "#" (a Z85 character) in an authorised-keys file have a test of their own.
    let proxy = await libzmqKeyPair();
    while (proxy.publicKey.includes("#")) proxy = await libzmqKeyPair();
    const stranger = await libzmqKeyPair();
    const bouncerKeys = keyPairWithout("#");
    const file = async (name: string, text: string) => {
      const path = join(dir, name);
      await Deno.writeTextFile(path, text, { mode: 0o600 });
      return path;
    };
    const [inputPort, outboundPort] = [freePort(), freePort()];
    const ini = await writeIni(dir, {
      input: `tcp://127.0.0.1:${inputPort}`,
      outbound: `tcp://127.0.0.1:${outboundPort}`,
      tsng: `curve_secret_key_file = ${await file("input.key", input.secretKey + "\n")}\n` +
        `curve_authorized_keys_file = ${await file(
          "input.authorized",
          `# the proxy\n${proxy.publicKey}\n`,
        )}\n`,
      qpc: `curve_secret_key_file = ${await file("outbound.key", outbound.secretKey + "\n")}\n` +
        `curve_authorized_keys_file = ${await file(
          "outbound.authorized",
          `# the bouncer\n${bouncerKeys.publicKey}\n`,
        )}\n`,
    });
    const sensor = await startSensor(ini, ["--clock", "record"]);
    const nft = new MemoryNft();
    const waiter = new BouncerWaiter();
    // The bouncer's code path, without nftables and without resync (api ""): every ban it holds
    // came over the CURVE SUB.
    const bouncer = new Bouncer(nft, {
      from: `tcp://127.0.0.1:${outboundPort}`,
      api: "",
      batchMs: 10,
      pollMs: 50,
      curve: { secretKey: bouncerKeys.secretKey, serverKey: outbound.publicKey },
      log: waiter.log,
    });
    waiter.watch(bouncer);
    const peers: PyzmqPeer[] = [];
    const metrics = async () => await (await fetch(`${sensor.api}/metrics`)).text();
    try {
      await bouncer.start();
      await outboundSubscribed(sensor.api);
      const t0 = Math.floor(Date.now() / 1000);

      // A proxy whose key is not in curve_authorized_keys_file: refused, its record never read.
      const intruder = await pyzmqPeer({
        type: "PUSH",
        mode: "connect",
        endpoint: `tcp://127.0.0.1:${inputPort}`,
        curve: { ...stranger, serverKey: input.publicKey },
      });
      peers.push(intruder);
      await intruder.send(message(8984, "198.51.100.66", t0));
      await waiter.until(
        "the sensor to refuse the unknown key",
        async () =>
          (metricValue(await metrics(), 'qts_input_disconnects{reason="auth_failed"}') ?? 0) >= 1,
        {
          pollMs: 50,
        },
      );

      // The authorised proxy: its black-listed record becomes an add the bouncer reads.
      const push = await pyzmqPeer({
        type: "PUSH",
        mode: "connect",
        endpoint: `tcp://127.0.0.1:${inputPort}`,
        curve: { ...proxy, serverKey: input.publicKey },
      });
      peers.push(push);
      await push.send(message(8984, "198.51.100.9", t0 + 1));
      await waiter.until("the add at the bouncer", () => bouncer.bans().length >= 1);
      assert.deepEqual(
        bouncer.bans().map((b) => [b.domainId, b.ruleName, b.ip]),
        [[8984, "tsng.fixed", "198.51.100.9"]],
      );
      assert.deepEqual([...(await nft.members()).keys()], ["198.51.100.9"]);
      assert.equal(bouncer.stats.invalid, 0);

      const bans = await (await fetch(`${sensor.api}/bans/8984`)).json();
      assert.deepEqual(bans.data.map((b: { ip: string }) => b.ip), ["198.51.100.9"]);
      const text = await metrics();
      const records = text.split("\n").filter((l) => l.startsWith("qts_records_total"))
        .reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
      assert.equal(records, 1, "only the authorised proxy's record was read");
      assert.ok(
        sensor.logs.some((l) => l.msg === "input client refused"),
        "the refusal is logged",
      );
    } finally {
      // kill, not close: the refused PUSH would linger 2 s over its undeliverable record.
      for (const peer of peers) await peer.kill();
      await bouncer.close();
      assert.equal(await sensor.stop(), 0);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    'qts serve authorises CURVE keys that contain "#", a Z85 character, in curve_authorized_keys_file',
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // About 38% of Z85 keys (1 - (84/85)^40) contain "#"; reading it as a comment would cut
    // them and refuse the start ("authorizedKeys: expected 40 Z85 characters").
    const dir = await Deno.makeTempDir();
    const outbound = curveKeyPair();
    const bouncerKeys = keyPairWithout("#", true);
    const proxyKey = keyPairWithout("#", true).publicKey;
    const file = async (name: string, text: string) => {
      const path = join(dir, name);
      await Deno.writeTextFile(path, text, { mode: 0o600 });
      return path;
    };
    const outboundPort = freePort();
    const ini = await writeIni(dir, {
      input: `tcp://127.0.0.1:${freePort()}`,
      outbound: `tcp://127.0.0.1:${outboundPort}`,
      tsng: `curve_secret_key_file = ${await file("input.key", curveKeyPair().secretKey)}\n` +
        `curve_authorized_keys_file = ${await file("input.authorized", `${proxyKey}\n`)}\n`,
      qpc: `curve_secret_key_file = ${await file("outbound.key", outbound.secretKey)}\n` +
        `curve_authorized_keys_file = ${await file(
          "outbound.authorized",
          `# bouncers\n${bouncerKeys.publicKey}\n`,
        )}\n`,
    });
    let sensor: Awaited<ReturnType<typeof startSensor>> | undefined;
    const bouncer = new Bouncer(new MemoryNft(), {
      from: `tcp://127.0.0.1:${outboundPort}`,
      api: "",
      curve: { secretKey: bouncerKeys.secretKey, serverKey: outbound.publicKey },
    });
    try {
      sensor = await startSensor(ini);
      await bouncer.start();
      await outboundSubscribed(sensor.api);
    } finally {
      await bouncer.close();
      if (sensor) assert.equal(await sensor.stop(), 0);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Runs `qts serve` until it serves or exits; the exit code and its log lines. */
async function serveOnce(
  args: string[],
  timeoutMs = 30_000,
): Promise<{ code: number; logs: Record<string, unknown>[] }> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const logs: Record<string, unknown>[] = [];
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  let buffer = "";
  let stopping: Promise<void> | undefined;
  for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line);
      } catch {
        entry = { raw: line };
      }
      logs.push(entry);
      // Serving: stop it the way an operator does, once its API has answered (the stop signal
      // handlers are installed just after "qts serving"; a SIGTERM before them kills it, 143).
      if (entry.msg === "qts serving") {
        stopping = fetch(`${entry.api}/metrics`).then((r) => r.body?.cancel())
          .catch(() => {}).finally(() => child.kill("SIGTERM"));
      }
    }
  }
  await stopping;
  const status = await child.status;
  clearTimeout(timer);
  return { code: status.code, logs };
}

Deno.test({
  name:
    "qts serve refuses input or outbound off loopback without CURVE (exit 2, naming the risk) unless allow_insecure_bind = true",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const port = freePort();
      const loopback = `tcp://127.0.0.1:${freePort()}`;
      const wildcard = await writeIni(join(dir, "input"), {
        input: `tcp://0.0.0.0:${port}`,
        outbound: loopback,
      });
      const refused = await serveOnce(serveArgs(wildcard));
      assert.equal(refused.code, 2);
      const error = refused.logs.find((l) => l.level === "error");
      assert.ok(error, `no error line in ${JSON.stringify(refused.logs)}`);
      assert.match(String(error.msg), /invalid settings: .*\[tsng\] input: binds 0\.0\.0\.0/);
      assert.match(String(error.msg), /off loopback without CURVE/);
      assert.match(String(error.msg), /feed records and so ban any IP/);
      assert.match(String(error.msg), /allow_insecure_bind = true/);
      assert.ok(!refused.logs.some((l) => l.msg === "qts serving"));

      const pub = await writeIni(join(dir, "outbound"), {
        input: loopback,
        outbound: `tcp://0.0.0.0:${freePort()}`,
      });
      const refusedPub = await serveOnce(serveArgs(pub));
      assert.equal(refusedPub.code, 2);
      assert.ok(
        refusedPub.logs.some((l) =>
          /\[tsng:qpc\] outbound: .*read every ban command/.test(String(l.msg))
        ),
        JSON.stringify(refusedPub.logs),
      );

      // Accepting the risk: it starts (warning), and stops cleanly on SIGTERM.
      const allowed = await writeIni(join(dir, "allowed"), {
        input: `tcp://0.0.0.0:${port}`,
        outbound: loopback,
        tsng: "allow_insecure_bind = true\n",
      });
      const args = serveArgs(allowed).map((a) => a.startsWith("--allow-net=") ? `${a},0.0.0.0` : a);
      const started = await serveOnce(args);
      assert.ok(
        started.logs.some((l) => l.msg === "qts serving"),
        `did not serve: ${JSON.stringify(started.logs.slice(-5))}`,
      );
      assert.equal(started.code, 0);
      const warning = started.logs.find((l) =>
        l.level === "warn" && /input binds off loopback without CURVE/.test(String(l.msg))
      );
      assert.ok(warning, `no warning in ${JSON.stringify(started.logs)}`);
      assert.match(String(warning.msg), /feed records and so ban any IP/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
