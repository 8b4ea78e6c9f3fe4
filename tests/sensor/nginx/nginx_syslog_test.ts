import assert from "node:assert/strict";
import { ReplaySession } from "../../../src/sensor/replay/replay_session.ts";
import { SyslogInput } from "../../../src/sensor/syslog/syslog_input.ts";
import { clientAddress, type HttpRecord } from "../../../src/sensor/wire/record.ts";
import { freePort, waitFor } from "../../_support/sensor_process.ts";
import { nginxSyslogHttp } from "../../_support/nginx_syslog_conf.ts";
import { nginxBinary, startNginx as startNginxProcess } from "../../_support/nginx_process.ts";

const nginx = nginxBinary();
if (!nginx) {
  console.warn("skipping nginx test: nginx is not installed (apt-get install nginx-light)");
}

/** A real nginx on loopback whose access log goes to `syslogPort` through config/nginx/qts.conf. */
async function startNginx(dir: string, httpPort: number, syslogPort: number) {
  return await startNginxProcess(
    nginx!,
    dir,
    await nginxSyslogHttp(
      dir,
      `127.0.0.1:${httpPort}`,
      `127.0.0.1:${syslogPort}`,
      `    location / { return 200 "ok\\n"; }\n    location = /login { return 403; }`,
    ),
    httpPort,
  );
}

Deno.test({
  name: "nginx access_log syslog lines in qts_json become records and ban commands",
  ignore: nginx === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "qts-nginx-" });
    const session = await ReplaySession.start({
      config: {
        settings: {},
        components: {},
        files: {},
        domains: new Map([[8984, {
          fixed_lists: { lists: [{ name: "bad", type: "black", entries: ["127.0.0.0/8"] }] },
          many_uas: { max_uas: 3, window: 300, min_new_share: 0 },
          lm: {
            use_component_projections: false,
            projections: [
              {
                name: "fixed",
                events: "^fixed_",
                rule_name: "tsng.fixed_lists",
                state: "enabled",
                timeout: 600,
                skip_if: ["static"],
              },
              {
                name: "uas",
                events: "^many_uas$",
                rule_name: "tsng.many_uas",
                state: "enabled",
                timeout: 900,
              },
            ],
          },
        }]]),
      },
    });
    const records: HttpRecord[] = [];
    const syslog = new SyslogInput({
      endpoint: "udp://127.0.0.1:0",
      submit: (domain, record) => {
        records.push(record);
        return session.send(domain, record);
      },
    });
    const syslogPort = Number((await syslog.start()).split(":").pop());
    const httpPort = freePort();
    const server = await startNginx(dir, httpPort, syslogPort);
    try {
      const get = async (path: string, ua: string, init: RequestInit = {}) => {
        const response = await fetch(`http://127.0.0.1:${httpPort}${path}`, {
          ...init,
          headers: { "user-agent": ua, referer: "http://example.test/" },
        });
        await response.body?.cancel();
        return response.status;
      };
      // Static file from a black-listed address: the projection skips `static`.
      assert.equal(await get("/style.css", "ua-one/1.0"), 200);
      // A page: banned by the fixed list. Then a 4th User-Agent: many_uas.
      assert.equal(await get("/page?x=1", "ua-one/1.0"), 200);
      assert.equal(await get("/login", "ua-two/1.0", { method: "POST", body: "user=a" }), 403);
      assert.equal(await get("/a", "ua-three/1.0"), 200);
      assert.equal(await get("/b", "ua-four/1.0"), 200);

      await waitFor("five log lines over syslog", () => records.length >= 5 ? true : undefined);
      await syslog.settled();
      const commands = await session.drain();

      const login = records.find((r) => r.url === "/login")!;
      assert.equal(login.method, "POST");
      assert.equal(login.status, 403);
      assert.equal(login.version, "HTTP/1.1");
      assert.equal(login.host, "127.0.0.1"); // fetch sends the URL's host
      assert.equal(login.http_user_agent, "ua-two/1.0");
      assert.equal(login.referer, "http://example.test/");
      assert.equal(login.request, "POST /login HTTP/1.1");
      assert.equal(login.req_type, 1);
      assert.equal(clientAddress(login), "127.0.0.1");
      assert.ok(Math.abs(Number(login.msec) - Date.now() / 1000) < 60, "msec is the request time");
      assert.equal(records[1]!.url, "/page?x=1");
      assert.equal(syslog.stats.bad, 0);

      assert.deepEqual(
        commands.map((c) => [c.method, c.ip_addr, c.rule_name, c.comment, c.timeout]),
        [
          ["add", "127.0.0.1", "tsng.fixed_lists", "fixed_bad", 600],
          ["add", "127.0.0.1", "tsng.many_uas", "many_uas", 900],
        ],
      );
    } finally {
      await server.stop();
      await syslog.close();
      await session.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
