/**
 * Request smuggling, differentially: every head of the hostile corpus goes to a real nginx
 * 1.22 and to `qts proxy` (over a Deno upstream); qts must refuse what nginx refuses, and accept
 * what nginx accepts except where the corpus records that qts is stricter, and why.
 */
import assert from "node:assert/strict";
import { freePort } from "../../_support/sensor_process.ts";
import { nginxBinary, startNginx } from "../../_support/nginx_process.ts";
import { startProxy } from "./_proxy_fixture.ts";
import { HOSTILE_HEADS } from "./_hostile_heads.ts";

const nginx = nginxBinary();
if (!nginx) console.warn("skipping the nginx differential: nginx is not installed (nginx-light)");

const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** The status of the first response to `bytes`, or 0 when the server closes or stays silent. */
async function firstStatus(port: number, bytes: string): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), 3000);
  let text = "";
  try {
    const data = latin1(bytes);
    let off = 0;
    while (off < data.length) off += await conn.write(data.subarray(off));
    const buf = new Uint8Array(4096);
    while (!text.includes("\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  } catch { /* reset or timed out */ }
  clearTimeout(timer);
  try {
    conn.close();
  } catch { /* closed */ }
  // An answer without a status line is nginx's to HTTP/0.9: the body alone.
  if (text !== "" && !text.startsWith("HTTP/")) return 200;
  return Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
}

const accepted = (status: number) => status >= 200 && status < 400;

Deno.test({
  name: "HttpProxy refuses every hostile head nginx 1.22 refuses and accepts what it accepts",
  ignore: nginx === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "qts-nginx-diff-" });
    const nginxPort = freePort();
    const server = await startNginx(
      nginx!,
      dir,
      `  access_log off;
  client_header_timeout 2s;
  server { listen 127.0.0.1:${nginxPort}; location / { return 200 "ok\\n"; } }`,
      nginxPort,
    );
    const upstream = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      async (req) => {
        await req.body?.cancel();
        return new Response("ok\n");
      },
    );
    // nginx's default limits: 8 KB a line (large_client_header_buffers 4 8k), 32 KB a head.
    const proxy = await startProxy(`[proxy]
header_timeout = 2s
max_header_bytes = 32768
[proxy:http:web]
listen = 127.0.0.1:0
pool = web
[proxy:pool:web]
servers = 127.0.0.1:${upstream.addr.port}
`);
    try {
      const rows: string[] = [];
      const wrong: string[] = [];
      for (const c of HOSTILE_HEADS) {
        const [theirs, ours] = await Promise.all([
          firstStatus(nginxPort, c.bytes),
          firstStatus(proxy.port("web"), c.bytes),
        ]);
        rows.push(`${c.name.padEnd(44)} nginx ${theirs}  qts ${ours}  ${c.decision}`);
        const agree = accepted(theirs) === accepted(ours);
        if (c.decision === "same" && !agree) wrong.push(`${c.name}: nginx ${theirs}, qts ${ours}`);
        if (c.decision === "stricter" && !(accepted(theirs) && !accepted(ours))) {
          wrong.push(`${c.name} (stricter: ${c.why}): nginx ${theirs}, qts ${ours}`);
        }
      }
      if (Deno.env.get("QTS_PRINT_DIFF")) console.log(rows.join("\n"));
      assert.deepEqual(wrong, [], `disagreements with nginx:\n${rows.join("\n")}`);
    } finally {
      await proxy.close();
      await upstream.shutdown();
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
