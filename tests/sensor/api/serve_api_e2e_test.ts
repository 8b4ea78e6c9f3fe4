import { parseIPv4 } from "../../../src/shared/net/ip.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { emptyRecord, encodeHeader, encodeRecord } from "../../../src/sensor/wire/mod.ts";
import { pyzmqAvailable } from "../../_support/pyzmq_available.ts";
import { pyzmqPeer } from "../../_support/pyzmq_peer.ts";
import {
  freePort,
  outboundSubscribed,
  serveArgs,
  startSensor,
  waitFor,
} from "../../_support/sensor_process.ts";
import { domainObject } from "./_api_fixture.ts";

const T0 = 1_700_000_000;
const DOMAIN = 8984;
const skip = pyzmqAvailable();
if (skip) console.warn(`skipping REST API end-to-end tests: ${skip}`);

function message(ip: string, at: number): Uint8Array[] {
  const record = {
    ...emptyRecord(),
    timestamp: at,
    msec: at.toFixed(3),
    remote_ip: parseIPv4(ip)!,
    method: "GET",
    url: "/",
    host: "example.com",
    http_user_agent: "Mozilla/5.0",
  };
  return [encodeHeader(DOMAIN), encodeRecord(record)];
}

async function api(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers = { "content-type": "application/json" };
  }
  const response = await fetch(`${base}${path}`, init);
  return { status: response.status, body: await response.json() };
}

for (const workers of [0, 2]) {
  Deno.test({
    name:
      `qts serve (workers=${workers}) API: PUT rewrite=1 survives a restart, rewrite=0 does not; ` +
      `disabling a projection, unbanning and deleting a domain send del on the PUB`,
    ignore: skip !== undefined,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const dir = await Deno.makeTempDir({ prefix: "qts-api-e2e-" });
      const filters = join(dir, "filters");
      const [input, outbound, port] = [freePort(), freePort(), freePort()];
      const ini = join(dir, "qts.ini");
      await Deno.writeTextFile(
        ini,
        `[tsng]\ninput = tcp://127.0.0.1:${input}\nforce_domains = ${DOMAIN}\n` +
          `api_server_port = ${port}\nfilters_config_dir = ${filters}\n` +
          `components_config_dir = ${join(dir, "components")}\nstate_dir = ${
            join(dir, "state")
          }\n` +
          `autodiscover = false\nworkers = ${workers}\nhostname = e2e-host\n` +
          `[tsng:qpc]\noutbound = tcp://127.0.0.1:${outbound}\n`,
      );
      let sensor = await startSensor(ini, ["--clock", "record"]);
      const sub = await pyzmqPeer({
        type: "SUB",
        mode: "connect",
        endpoint: `tcp://127.0.0.1:${outbound}`,
      });
      const push = await pyzmqPeer({
        type: "PUSH",
        mode: "connect",
        endpoint: `tcp://127.0.0.1:${input}`,
      });
      const take = async (n: number) =>
        (await sub.receive(n, 15_000)).map((frames) =>
          JSON.parse(new TextDecoder().decode(frames[0])) as Record<string, unknown>
        );
      const brief = (cmds: Record<string, unknown>[]) =>
        cmds.map((c) => `${c.method} ${c.rule_name} ${c.ip_addr}`).sort();
      const subscribed = () => outboundSubscribed(sensor.api);
      try {
        await sub.subscribe(new Uint8Array(0));
        await subscribed();
        assert.deepEqual((await api(sensor.api, "GET", "/filters")).body, {
          status: "success",
          data: [DOMAIN],
        });

        // PUT with rewrite=1: the file appears in filters_config_dir.
        const put = await api(sensor.api, "PUT", `/filters/${DOMAIN}?rewrite=1`, domainObject());
        assert.deepEqual([put.status, (put.body as { status: string }).status], [200, "success"]);
        const saved = JSON.parse(await Deno.readTextFile(join(filters, `${DOMAIN}.json`)));
        assert.equal(saved.lm.projections[1].state, "enabled");
        assert.deepEqual([...Deno.readDirSync(filters)].map((e) => e.name), [`${DOMAIN}.json`]);

        await push.send(message("198.51.100.9", T0));
        await push.send(message("203.0.113.1", T0 + 1));
        await push.send(message("203.0.113.2", T0 + 2));
        assert.deepEqual(brief(await take(3)), [
          "add tsng.fixed 198.51.100.9",
          "add tsng.scan 203.0.113.1",
          "add tsng.scan 203.0.113.2",
        ]);

        // Disabling a projection (in memory only): del for each IP it banned, on the PUB.
        const lm = await api(
          sensor.api,
          "PUT",
          `/filters/${DOMAIN}/lm`,
          domainObject("disabled").lm,
        );
        assert.deepEqual([lm.status, (lm.body as { status: string }).status], [200, "success"]);
        const dels = await take(2);
        assert.deepEqual(brief(dels), ["del tsng.scan 203.0.113.1", "del tsng.scan 203.0.113.2"]);
        for (const cmd of dels) {
          assert.equal("timeout" in cmd, false);
          assert.equal(cmd.comment, "fixed_scan");
          assert.equal(cmd.domain_id, DOMAIN);
        }
        // Manual unban.
        const unban = await api(sensor.api, "DELETE", `/bans/${DOMAIN}/198.51.100.9`);
        assert.deepEqual(unban, { status: 200, body: { status: "success", data: { removed: 1 } } });
        assert.deepEqual(brief(await take(1)), ["del tsng.fixed 198.51.100.9"]);

        // Hostile requests over real HTTP: 400, nothing written, the server carries on.
        const traversal = await api(sensor.api, "PUT", "/filters/..%2f..%2fetc?rewrite=1", {});
        assert.equal(traversal.status, 400);
        const big = await api(
          sensor.api,
          "PUT",
          `/filters/${DOMAIN}?rewrite=1`,
          JSON.stringify({ pad: "x".repeat(5 << 20) }),
        );
        assert.deepEqual(big, {
          status: 400,
          body: { status: "error", exception: "request body exceeds the limit of 1048576 bytes" },
        });
        assert.deepEqual([...Deno.readDirSync(filters)].map((e) => e.name), [`${DOMAIN}.json`]);
        assert.deepEqual(
          JSON.parse(await Deno.readTextFile(join(filters, `${DOMAIN}.json`))),
          saved,
          "rewrite=0 and refused requests leave the file alone",
        );

        // Restart: the rewrite=1 configuration is back, the rewrite=0 change is gone (seed §4.3).
        assert.equal(await sensor.stop(), 0);
        sensor = await startSensor(ini, ["--clock", "record"]);
        const after = await api(sensor.api, "GET", `/filters/${DOMAIN}`);
        assert.equal(after.status, 200);
        const data = after.body.data as ReturnType<typeof domainObject>;
        assert.equal(data.fixed_lists.lists.length, 3);
        assert.deepEqual(data.lm.projections.map((p) => `${p.name}:${p.state}`), [
          "bad:enabled",
          "scan:enabled",
          "uas:enabled",
        ]);
        assert.deepEqual((await api(sensor.api, "GET", `/bans/${DOMAIN}`)).body.data, []);

        // DELETE of the domain: del for the active IPs of its own projections; it stays listed
        // (force_domains) and runs on the global configuration.
        await subscribed();
        await push.send(message("203.0.113.3", T0 + 10));
        assert.deepEqual(brief(await take(1)), ["add tsng.scan 203.0.113.3"]);
        const del = await api(sensor.api, "DELETE", `/filters/${DOMAIN}`);
        assert.deepEqual(del, { status: 200, body: { status: "success" } });
        assert.deepEqual(brief(await take(1)), ["del tsng.scan 203.0.113.3"]);
        assert.deepEqual((await api(sensor.api, "GET", "/filters")).body.data, [DOMAIN]);
      } finally {
        await push.close();
        await sub.close();
        await sensor.stop();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test("qts serve refuses a non-loopback api_server_host without api_token (exit 2)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qts-api-e2e-" });
  try {
    const ini = join(dir, "qts.ini");
    await Deno.writeTextFile(ini, `[tsng]\napi_server_host = 0.0.0.0\nstate_dir = ${dir}\n`);
    const out = await new Deno.Command(Deno.execPath(), {
      args: serveArgs(ini),
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 2);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.match(
      stderr,
      /api_token: required when api_server_host \(0\.0\.0\.0\) is not a loopback/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "qts serve with autoreload_filters applies a domain file written while it runs",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "qts-api-e2e-" });
    const filters = join(dir, "filters");
    const ini = join(dir, "qts.ini");
    await Deno.writeTextFile(
      ini,
      `[tsng]\ninput = tcp://127.0.0.1:${freePort()}\nforce_domains = *\n` +
        `api_server_port = ${freePort()}\nfilters_config_dir = ${filters}\n` +
        `components_config_dir = ${join(dir, "components")}\nstate_dir = ${join(dir, "state")}\n` +
        `autoreload_filters = true\nworkers = 0\n` +
        `[tsng:qpc]\noutbound = tcp://127.0.0.1:${freePort()}\n`,
    );
    const sensor = await startSensor(ini);
    try {
      assert.deepEqual((await api(sensor.api, "GET", "/filters")).body.data, []);
      await Deno.writeTextFile(join(filters, "4242.json"), JSON.stringify(domainObject()));
      await waitFor("the new domain file to be applied", async () => {
        const r = await api(sensor.api, "GET", "/filters");
        return (r.body.data as number[]).includes(4242) ? true : undefined;
      });
      // The store lists the domain at once; its chain and projections follow in the pipeline's
      // queue: wait for them rather than for a time.
      const projections = await waitFor("the domain's projections", async () => {
        const stats = await api(sensor.api, "GET", "/stats/4242");
        const names = Object.keys(
          (stats.body.data as { projections?: object } | undefined)?.projections ?? {},
        );
        return names.length > 0 ? names : undefined;
      });
      assert.deepEqual(projections, ["bad", "scan", "uas"]);
    } finally {
      assert.equal(await sensor.stop(), 0);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
