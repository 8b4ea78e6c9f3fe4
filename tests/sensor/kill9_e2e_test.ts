/**
 * `kill -9` under load (issue 17.5): a stream of black-listed IPs over libzmq, the sensor
 * SIGKILLed at random moments and restarted each time, a SUB collecting every published command.
 * Every add that was published must be in the final `GET /bans` (0 lost), and no IP may get a
 * second add for its rule while its ban is active (0 repeated).
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { emptyRecord, encodeHeader, encodeRecord } from "../../src/sensor/wire/mod.ts";
import { parseIPv4 } from "../../src/shared/net/ip.ts";
import { pyzmqAvailable } from "../_support/pyzmq_available.ts";
import { PYZMQ_PYTHON, pyzmqPeer } from "../_support/pyzmq_peer.ts";
import { seededRandom } from "../_support/random.ts";
import { sensorIni, serveArgs } from "../_support/sensor_process.ts";

const skip = pyzmqAvailable();
if (skip) console.warn(`skipping the kill -9 end-to-end test: ${skip}`);

const KILLS = 12;
/** Records per batch and the pause between batches: about 2,000 records a second. */
const BATCH = 40;
const PAUSE_MS = 20;

function ipOf(n: number): string {
  return `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function message(ip: string): Uint8Array[] {
  const now = Date.now() / 1000;
  const record = {
    ...emptyRecord(),
    timestamp: Math.floor(now),
    msec: now.toFixed(3),
    remote_ip: parseIPv4(ip)!,
    method: "GET",
    url: "/",
    host: "example.com",
    http_user_agent: "Mozilla/5.0",
  };
  return [encodeHeader(8984), encodeRecord(record)];
}

const DOMAIN = {
  fixed_lists: { lists: [{ name: "bad", type: "black", entries: ["10.0.0.0/8"] }] },
  limit_req_mc: { enabled: false },
  lua: { enabled: false },
  lm: {
    use_component_projections: false,
    projections: [{
      name: "bad",
      events: "^fixed_bad$",
      rule_name: "tsng.fixed",
      state: "enabled",
      timeout: 86400,
    }],
  },
};

// A libzmq SUB printing every message on a line until its stdin closes, then draining briefly.
const SUB_SCRIPT = `
import sys, time, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.SUB)
s.setsockopt(zmq.RCVHWM, 0)
s.setsockopt(zmq.LINGER, 0)
s.setsockopt(zmq.RECONNECT_IVL, 20)
s.connect(sys.argv[1])
s.setsockopt(zmq.SUBSCRIBE, b"")
poller = zmq.Poller()
poller.register(s, zmq.POLLIN)
poller.register(0, zmq.POLLIN)
print("READY", flush=True)
end = None
while end is None or time.time() < end:
    events = dict(poller.poll(50))
    while True:
        try:
            msg = s.recv(zmq.NOBLOCK)
        except zmq.Again:
            break
        sys.stdout.write(msg.decode() + "\\n")
    sys.stdout.flush()
    if 0 in events and end is None:
        poller.unregister(0)
        end = time.time() + 0.3
s.close()
ctx.term()
`;

interface Collector {
  readonly lines: string[];
  stop(): Promise<void>;
}

async function collect(endpoint: string): Promise<Collector> {
  const child = new Deno.Command(PYZMQ_PYTHON, {
    args: ["-c", SUB_SCRIPT, endpoint],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines: string[] = [];
  const ready = Promise.withResolvers<void>();
  const reading = (async () => {
    let rest = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      let nl: number;
      while ((nl = rest.indexOf("\n")) >= 0) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        if (line === "READY") ready.resolve();
        else lines.push(line);
      }
    }
    ready.reject(new Error("the SUB collector exited before it was ready"));
  })();
  await ready.promise;
  return {
    lines,
    async stop() {
      await child.stdin.close();
      await reading;
      await child.status;
    },
  };
}

interface Run {
  api: string;
  child: Deno.ChildProcess;
  logs: string[];
  done: Promise<void>;
}

/** Starts `qts serve` and waits for its "qts serving" line (bounded). */
async function launch(ini: string): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: serveArgs(ini),
    stdout: "null",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const logs: string[] = [];
  const serving = Promise.withResolvers<string>();
  const done = (async () => {
    let rest = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      let nl: number;
      while ((nl = rest.indexOf("\n")) >= 0) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        logs.push(line);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (entry.msg === "qts serving") serving.resolve(String(entry.api));
        } catch {
          // Not a log line.
        }
      }
    }
    serving.reject(new Error(`sensor exited before serving: ${logs.slice(-5).join("\n")}`));
  })();
  const timer = setTimeout(() => serving.reject(new Error("sensor did not start in 30 s")), 30_000);
  try {
    return { api: await serving.promise, child, logs, done };
  } catch (error) {
    child.kill("SIGKILL");
    await done;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test({
  name: "qts serve: kill -9 at random moments under load loses no published ban, repeats no add",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const seed = Number(Deno.env.get("KILL9_SEED") ?? Date.now() % 1_000_000);
    console.log(`kill -9 e2e seed ${seed} (rerun with KILL9_SEED=${seed})`);
    const random = seededRandom(seed);
    const dir = await Deno.makeTempDir({ prefix: "qts_kill9_" });
    const { ini, input, outbound } = await sensorIni(dir, "k9", DOMAIN);
    const journal = join(dir, "k9", "state", "lm-journal.jsonl");
    const sub = await collect(`tcp://127.0.0.1:${outbound}`);
    const push = await pyzmqPeer({
      type: "PUSH",
      mode: "connect",
      endpoint: `tcp://127.0.0.1:${input}`,
      socketOptions: { sndhwm: 1_000_000, linger: 0 },
    });
    let next = 1;
    let streaming = true;
    let sent = 0;
    // Half new IPs, half IPs sent before (banned or not): a lost ban would be added again.
    const stream = (async () => {
      while (streaming) {
        const batch: Uint8Array[][] = [];
        for (let i = 0; i < BATCH; i++) {
          const n = i % 2 === 0 || next < 2 ? next++ : 1 + Math.floor(random() * (next - 1));
          batch.push(message(ipOf(n)));
        }
        await push.sendMany(batch);
        sent += batch.length;
        await pause(PAUSE_MS);
      }
    })();
    let run: Run | undefined;
    try {
      for (let k = 0; k < KILLS; k++) {
        run = await launch(ini);
        await pause(300 + Math.floor(random() * 1200));
        if (k === 0) {
          const exists = await Deno.stat(journal).then(() => true, () => false);
          assert.ok(exists, `no ${journal}: the sensor does not journal its bans`);
        }
        run.child.kill("SIGKILL");
        await run.child.status;
        await run.done;
      }
      run = await launch(ini);
      await pause(1000);
      streaming = false;
      await stream;
      // Quiet: nothing more arrives for 500 ms.
      let seen = -1;
      while (seen !== sub.lines.length) {
        seen = sub.lines.length;
        await pause(500);
      }
      const response = await fetch(`${run.api}/bans`);
      const bans = (await response.json()).data as { ip: string; rule_name: string }[];
      const banned = new Set(bans.map((b) => `${b.rule_name} ${b.ip}`));

      const adds = new Map<string, number>();
      let dels = 0;
      for (const line of sub.lines) {
        const cmd = JSON.parse(line) as { method: string; rule_name: string; ip_addr: string };
        if (cmd.method === "del") dels++;
        else {adds.set(
            `${cmd.rule_name} ${cmd.ip_addr}`,
            (adds.get(`${cmd.rule_name} ${cmd.ip_addr}`) ?? 0) + 1,
          );}
      }
      const lost = [...adds.keys()].filter((key) => !banned.has(key));
      const repeated = [...adds].filter(([, n]) => n > 1).map(([key, n]) => `${key} ×${n}`);
      console.log(
        `kill -9 e2e: ${KILLS} kills, ${sent} records, ${adds.size} IPs added and published, ` +
          `${bans.length} bans at the end, ${lost.length} lost, ${repeated.length} repeated`,
      );
      assert.ok(adds.size >= 500, `too few adds published (${adds.size}) to mean anything`);
      assert.equal(dels, 0, "nothing unbans");
      assert.deepEqual(lost.slice(0, 10), [], `${lost.length} published bans lost`);
      assert.deepEqual(repeated.slice(0, 10), [], `${repeated.length} adds repeated`);
    } finally {
      streaming = false;
      await stream.catch(() => {});
      if (run) {
        try {
          run.child.kill("SIGTERM");
        } catch {
          // Already gone.
        }
        await run.child.status;
        await run.done;
      }
      await push.kill();
      await sub.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
