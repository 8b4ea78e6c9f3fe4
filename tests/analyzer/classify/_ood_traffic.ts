/**
 * Generates real traffic outside the ISCX training domain on 127.0.0.1 (run it in a network namespace of its own), for
 * scripts/make-ood-capture.sh: a real nginx logging each request as a syslog UDP datagram to
 * :5140 (the sensor's syslog input) while curl browses it, `logger` sending RFC 3164 syslog to
 * :514, DNS queries from Deno's resolver to a minimal DNS server on :53, and a memcached client
 * session (set/get over one TCP connection) against a real memcached on :11211.
 * Run as root: `deno run -A tests/analyzer/classify/_ood_traffic.ts <work dir>`.
 */
import dgram from "node:dgram";
import { join } from "node:path";
import { writeNginxSyslogConf } from "../../_support/nginx_syslog_conf.ts";

const HOST = "127.0.0.1";
const work = Deno.args[0] ?? await Deno.makeTempDir();
const enc = new TextEncoder();
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const children: Deno.ChildProcess[] = [];

function spawn(cmd: string, args: string[]): Deno.ChildProcess {
  const child = new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).spawn();
  children.push(child);
  return child;
}

async function run(cmd: string, args: string[], stdin?: string): Promise<void> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(enc.encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

async function waitTcp(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname: HOST, port })).close();
      return;
    } catch {
      await pause(50);
    }
  }
  throw new Error(`nothing listens on ${HOST}:${port}`);
}

// ---- a syslog sink on :5140 and :514 (the datagrams only need to arrive) ----
const sinks = [5140, 514].map((port) => {
  const socket = dgram.createSocket("udp4");
  socket.on("message", () => {});
  socket.bind(port, HOST);
  return socket;
});

// ---- nginx logging every request to syslog ----
const conf = await writeNginxSyslogConf(
  work,
  `${HOST}:8080`,
  `${HOST}:5140`,
  `    location / { return 200 "ok\\n"; }`,
);
const nginx = spawn("nginx", ["-p", work, "-c", conf]);

// ---- memcached ----
const memcached = spawn("memcached", ["-l", HOST, "-p", "11211", "-U", "0", "-u", "root"]);
// nginx writes its pid file once it listens; a probe connection would add a payload-less flow.
for (let i = 0; i < 100; i++) {
  try {
    await Deno.stat(join(work, "nginx.pid"));
    break;
  } catch {
    await pause(50);
  }
}
await waitTcp(11211);

// ---- a minimal DNS server on :53: every A query gets 192.0.2.<n> ----
const dns = dgram.createSocket("udp4");
dns.on("message", (msg, rinfo) => {
  let p = 12;
  while (p < msg.length && msg[p] !== 0) p += msg[p]! + 1;
  const question = msg.subarray(12, p + 5);
  const answer = new Uint8Array(12 + question.length + 16);
  answer.set(msg.subarray(0, 12));
  answer[2] = 0x81;
  answer[3] = 0x80;
  answer[7] = 1; // one answer
  answer[9] = 0;
  answer[11] = 0; // no additional records (drop the resolver's EDNS OPT)
  answer.set(question, 12);
  answer.set([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, msg[1]!], 12 + question.length);
  dns.send(answer, rinfo.port, rinfo.address);
});
await new Promise<void>((resolve) => dns.bind(53, HOST, resolve));

const names = ["example.test", "mail.example.test", "cdn.example.test", "api.example.test"];
const jobs: Promise<unknown>[] = [];

// Browsing with its access log: 40 requests over ~20 s, each logged by nginx to syslog.
jobs.push((async () => {
  for (let i = 0; i < 40; i++) {
    await run("curl", ["-sS", "--max-time", "5", "-o", "/dev/null", `http://${HOST}:8080/p/${i}`]);
    await pause(200 + (i * 137) % 600);
  }
})());

// Classic syslog from `logger`: a line every ~0.3–1.2 s, one socket.
jobs.push((async () => {
  const lines: string[] = [];
  for (let i = 0; i < 30; i++) lines.push(`cron[${1000 + i}]: job ${i} finished in ${i % 7} s`);
  for (const line of lines) {
    await run("logger", ["--udp", "--server", HOST, "--port", "514", "-t", "app", line]);
    await pause(300 + (line.length * 31) % 900);
  }
})());

// DNS lookups through Deno's resolver to the loopback server.
jobs.push((async () => {
  for (let i = 0; i < 24; i++) {
    await Deno.resolveDns(names[i % names.length]!, "A", {
      nameServer: { ipAddr: HOST, port: 53 },
    });
    await pause(150 + (i * 211) % 900);
  }
})());

// A memcached session: set and get 60 keys over one connection, with think time.
jobs.push((async () => {
  const conn = await Deno.connect({ hostname: HOST, port: 11211 });
  const buf = new Uint8Array(4096);
  for (let i = 0; i < 60; i++) {
    const value = "v".repeat(20 + (i * 17) % 200);
    await conn.write(enc.encode(`set key${i} 0 60 ${value.length}\r\n${value}\r\n`));
    await conn.read(buf);
    await conn.write(enc.encode(`get key${(i * 7) % (i + 1)}\r\n`));
    await conn.read(buf);
    await pause(100 + (i * 89) % 400);
  }
  conn.close();
})());

await Promise.all(jobs);
for (const socket of [...sinks, dns]) socket.close();
nginx.kill("SIGQUIT");
memcached.kill("SIGTERM");
await Promise.all(children.map((child) => child.status));
console.log(JSON.stringify({ done: true, work }));
