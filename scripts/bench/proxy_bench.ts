/**
 * `deno task bench proxy`: small responses through `qts proxy` next to nginx `proxy_pass` to the
 * same upstream (an nginx answering `ok`), load from wrk, each on loopback with one worker:
 * requests/s, p50/p99 latency and the latency each proxy adds over the upstream alone; then
 * WebSocket echo messages/s through `qts proxy` next to nginx and the upstream alone. Figures
 * only; the machine is shared, so compare the ratios within one run (the two proxies alternate
 * over rounds and the medians are compared).
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { fmt, freePort, ratio, report } from "./_measure.ts";

const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));
const UPSTREAM = fileURLToPath(
  new URL("../../tests/sensor/proxy/_upstream_server.ts", import.meta.url),
);
const SECONDS = Number(Deno.env.get("PROXY_BENCH_SECONDS") ?? 5);
const CONNECTIONS = 32;
const ROUNDS = Number(Deno.env.get("PROXY_BENCH_ROUNDS") ?? 3);

function which(paths: string[]): string | undefined {
  for (const p of paths) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch { /* next */ }
  }
  return undefined;
}

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nothing listens on ${port}`);
}

interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text)!;
  return Number(m[1]) * (m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1);
}

async function wrk(url: string): Promise<WrkResult> {
  const out = await new Deno.Command("/usr/bin/wrk", {
    args: ["-t1", `-c${CONNECTIONS}`, `-d${SECONDS}s`, "--latency", url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? 0);
  const p50 = ms(/ 50%\s+(\S+)/.exec(text)?.[1] ?? "0ms");
  const p99 = ms(/ 99%\s+(\S+)/.exec(text)?.[1] ?? "0ms");
  const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0) +
    [...text.matchAll(/(?:connect|read|write|timeout) (\d+)/g)].reduce(
      (s, m) => s + Number(m[1]),
      0,
    );
  return { rps, p50, p99, errors };
}

/** The run with the median requests/s (its latencies with it). */
function median(runs: WrkResult[]): WrkResult {
  return [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)]!;
}

async function wsRate(url: string, sockets: number): Promise<number> {
  let count = 0;
  const deadline = Date.now() + SECONDS * 1000;
  await Promise.all(Array.from({ length: sockets }, async () => {
    const ws = new WebSocket(url);
    const done = Promise.withResolvers<void>();
    ws.onopen = () => ws.send("m");
    ws.onmessage = () => {
      count++;
      if (Date.now() < deadline) ws.send("m");
      else {
        ws.close();
        done.resolve();
      }
    };
    ws.onerror = () => done.reject(new Error(`websocket ${url} failed`));
    await done.promise;
  }));
  return count / SECONDS;
}

/** Runs the benchmark and prints its figures. */
export async function run(): Promise<void> {
  const nginx = which(["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]);
  if (!nginx || !which(["/usr/bin/wrk"])) {
    console.log("proxy bench skipped: needs nginx and wrk (apt-get install nginx-light wrk)");
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "qts-proxy-bench-" });
  const p = {
    up: freePort(),
    ngx: freePort(),
    qts: freePort(),
    wsUp: freePort(),
    wsNgx: freePort(),
    wsQts: freePort(),
  };
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((t) => `  ${t}_temp_path ${join(dir, t)};`).join("\n");
  const conf = (name: string, server: string) =>
    `worker_processes 1;
daemon off;
pid ${join(dir, `${name}.pid`)};
error_log ${join(dir, `${name}.log`)} error;
events { worker_connections 1024; }
http {
${temp}
  access_log off;
${server}
}
`;
  await Deno.writeTextFile(
    join(dir, "upstream.conf"),
    conf("upstream", `  server { listen 127.0.0.1:${p.up}; location / { return 200 "ok\\n"; } }`),
  );
  // nginx as it is deployed in front of a site: keep-alive to the upstream, HTTP/1.1.
  await Deno.writeTextFile(
    join(dir, "proxy.conf"),
    conf(
      "proxy",
      `  upstream site { server 127.0.0.1:${p.up}; keepalive 64; }
  server {
    listen 127.0.0.1:${p.ngx};
    location / {
      proxy_pass http://site;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
  server {
    listen 127.0.0.1:${p.wsNgx};
    location / {
      proxy_pass http://127.0.0.1:${p.wsUp};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
    }
  }`,
    ),
  );
  await Deno.writeTextFile(
    join(dir, "qts.ini"),
    `[tsng]
log_level = warn
[proxy]
[proxy:http:web]
listen = 127.0.0.1:${p.qts}
pool = web
[proxy:http:ws]
listen = 127.0.0.1:${p.wsQts}
pool = ws
[proxy:pool:web]
servers = 127.0.0.1:${p.up}
[proxy:pool:ws]
servers = 127.0.0.1:${p.wsUp}
`,
  );
  const children: Deno.ChildProcess[] = [];
  const spawn = (cmd: string, args: string[]) => {
    const child = new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).spawn();
    children.push(child);
  };
  try {
    spawn(nginx, ["-p", dir, "-c", join(dir, "upstream.conf")]);
    spawn(nginx, ["-p", dir, "-c", join(dir, "proxy.conf")]);
    spawn(Deno.execPath(), ["run", "--allow-net=127.0.0.1", UPSTREAM, "ws", String(p.wsUp)]);
    spawn(Deno.execPath(), [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      MAIN,
      "proxy",
      "--config",
      join(dir, "qts.ini"),
    ]);
    for (const port of Object.values(p)) await waitPort(port);
    console.log(
      `wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, response "ok\\n" from nginx (1 worker); ` +
        `nginx and qts alternate over ${ROUNDS} rounds, medians shown`,
    );
    // Warm-up (JIT, connection pools), then the measured runs. The two proxies alternate
    // (N Q, Q N, N Q) so a machine that slows down mid-run weighs on both alike.
    await wrk(`http://127.0.0.1:${p.qts}/`);
    const direct = await wrk(`http://127.0.0.1:${p.up}/`);
    const nginxRuns: WrkResult[] = [];
    const qtsRuns: WrkResult[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ["nginx", "qts"] : ["qts", "nginx"];
      for (const which of order) {
        if (which === "nginx") nginxRuns.push(await wrk(`http://127.0.0.1:${p.ngx}/`));
        else qtsRuns.push(await wrk(`http://127.0.0.1:${p.qts}/`));
      }
    }
    const viaNginx = median(nginxRuns);
    const viaQts = median(qtsRuns);
    console.log(
      `${"qts / nginx requests/s, each round".padEnd(48)} ${
        qtsRuns.map((q, i) => (q.rps / nginxRuns[i]!.rps).toFixed(3)).join("  ")
      }`,
    );
    for (
      const [name, r] of [["upstream alone", direct], ["nginx proxy_pass", viaNginx], [
        "qts proxy",
        viaQts,
      ]] as const
    ) {
      report(`${name}: requests/s`, r.rps, "req/s");
      console.log(
        `${`${name}: latency p50 / p99`.padEnd(48)} ${
          `${r.p50.toFixed(2)} / ${r.p99.toFixed(2)}`.padStart(14)
        } ms` +
          (r.errors > 0 ? `  (${fmt(r.errors)} errors)` : ""),
      );
    }
    // Percentiles of runs at different throughputs do not subtract (nginx's p99 can come out
    // below the upstream's own): the two proxies are compared with each other instead.
    console.log(
      `${"qts / nginx latency p50, p99 (32 connections)".padEnd(48)} ${
        `${(viaQts.p50 / viaNginx.p50).toFixed(2)}× ${(viaQts.p99 / viaNginx.p99).toFixed(2)}×`
          .padStart(14)
      }`,
    );
    ratio("qts proxy / nginx requests/s (target ≥ 0.5)", viaQts.rps / viaNginx.rps);
    // Ping-pong on 8 sockets: latency-bound, so every hop costs; nginx's hop is the reference.
    const wsDirect = await wsRate(`ws://127.0.0.1:${p.wsUp}/`, 8);
    const wsNginx = await wsRate(`ws://127.0.0.1:${p.wsNgx}/`, 8);
    const wsQts = await wsRate(`ws://127.0.0.1:${p.wsQts}/`, 8);
    report("WebSocket echo, upstream alone: messages/s", wsDirect, "msg/s");
    report("WebSocket echo, through nginx: messages/s", wsNginx, "msg/s");
    report("WebSocket echo, through qts proxy: messages/s", wsQts, "msg/s");
    ratio("WebSocket through nginx / alone", wsNginx / wsDirect);
    ratio("WebSocket through qts / alone", wsQts / wsDirect);
    ratio("WebSocket through qts / through nginx", wsQts / wsNginx);
  } finally {
    for (const child of children) {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
    }
    await Deno.remove(dir, { recursive: true });
  }
}
