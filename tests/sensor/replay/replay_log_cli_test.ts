import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ENTRY = fileURLToPath(new URL("./_replay_main.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../../deno.json", import.meta.url));

function line(ip: string, second: number, url: string): string {
  const s = String(second).padStart(2, "0");
  return `${ip} - - [14/Nov/2023:22:13:${s} +0000] "GET ${url} HTTP/1.1" 200 12 "-" "Mozilla/5.0"`;
}

Deno.test({
  name:
    "qts replay --log prints commands as JSON and a summary, with deno task replay's permissions",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "qts-replay-log-" });
    try {
      await Deno.mkdir(join(dir, "components"));
      await Deno.mkdir(join(dir, "filters"));
      await Deno.writeTextFile(
        join(dir, "filters", "8984.json"),
        JSON.stringify({
          fixed_lists: { lists: [{ name: "bad", type: "black", entries: ["198.51.100.0/24"] }] },
        }),
      );
      await Deno.writeTextFile(
        join(dir, "qts.ini"),
        `[tsng]\nfilters_config_dir = ${join(dir, "filters")}\n` +
          `components_config_dir = ${join(dir, "components")}\n`,
      );
      const lines = [
        line("192.0.2.1", 0, "/"),
        line("198.51.100.9", 1, "/wp-login.php"),
        "garbage that is not a log line",
        line("198.51.100.9", 2, "/xmlrpc.php"),
        line("192.0.2.1", 3, "/about"),
      ];
      await Deno.writeTextFile(join(dir, "access.log"), lines.join("\n") + "\n");
      const run = async (via: string) => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--config",
            CONFIG,
            "--allow-net=127.0.0.1",
            "--allow-read",
            "--allow-write=/tmp",
            "--allow-env",
            "--allow-sys=hostname",
            ENTRY,
            "--log",
            join(dir, "access.log"),
            "--config",
            join(dir, "qts.ini"),
            "--via",
            via,
          ],
          env: { TMPDIR: "/tmp" },
        }).output();
        const stdout = new TextDecoder().decode(out.stdout);
        const stderr = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 0, stderr);
        return { stdout, stderr };
      };
      const { stdout, stderr } = await run("direct");
      const commands = stdout.trim().split("\n").map((l) => JSON.parse(l));
      assert.deepEqual(
        commands.map((c) => [c.method, c.ip_addr, c.comment, c.rule_name, c.timestamp]),
        [["add", "198.51.100.9", "fixed_bad", "tsng.fixed_lists", 1699999981]],
      );
      assert.match(stderr, /:3: not an access log line: garbage/);
      assert.match(stderr, /lines: 5 \(1 unreadable\), records: 4, 3\.0 s of traffic in/);
      assert.match(stderr, /records\/s/);
      assert.match(stderr, /tsng\.fixed_lists: 1 add, 0 del/);
      // Through loopback ZeroMQ, as a proxy sends: the same commands, byte for byte.
      const socket = await run("socket");
      assert.equal(socket.stdout, stdout);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
