/**
 * `deno task bench soak`: a real `qts serve` (2 workers, its own ports and state) fed by a qts
 * PUSH socket at a steady 5k requests/s as proxies send them (two halves under fresh request
 * ids, 100k clients), past the 60 s request-id ttl. Prints the sensor's CPU (whole process,
 * /proc) per interval and the last interval over the first: a table that slows down as it
 * expires entries shows here first (a Map trimmed from its front took the sensor from 28 % to
 * 119 % of a core by 100 s). QTS_SOAK_SECONDS, QTS_SOAK_RATE and QTS_SOAK_WORKERS change the
 * run.
 */
import { readSettings, serveEndpoints } from "../../src/commands/serve_command.ts";
import { silentLogger } from "../../src/shared/log/logger.ts";
import { PushSocket } from "../../src/sensor/zmtp/push_socket.ts";
import { startCommand } from "../start.ts";
import { freePort, metricTotal } from "./_measure.ts";
import { halves } from "./pipeline_bench.ts";

const SECONDS = Number(Deno.env.get("QTS_SOAK_SECONDS") ?? 90);
const RATE = Number(Deno.env.get("QTS_SOAK_RATE") ?? 5000);
const WORKERS = Number(Deno.env.get("QTS_SOAK_WORKERS") ?? 2);
const INTERVAL_S = 15;

/**
 * CPU seconds (user + system, every thread) of a process, from /proc/<pid>/stat: read by `cat`,
 * as Deno grants another process's /proc files only with --allow-all.
 */
function cpuSeconds(pid: number): number {
  const out = new Deno.Command("cat", { args: [`/proc/${pid}/stat`] }).outputSync();
  const fields = new TextDecoder().decode(out.stdout).split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Waits for the sensor's API (a send to a sensor that never came up would wait for ever). */
async function serving(api: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${api}/metrics`);
      await response.body?.cancel();
      if (response.ok) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`soak: qts serve did not come up on port ${api}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export async function run(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "qts-soak-" });
  const [input, outbound, api] = [freePort(), freePort(), freePort()];
  const ini = `${dir}/qts.ini`;
  await Deno.writeTextFile(
    ini,
    `[tsng]\ninput = tcp://127.0.0.1:${input}\napi_server_port = ${api}\nstate_dir = ${dir}\n` +
      `filters_config_dir = ${dir}/filters\ncomponents_config_dir = ${dir}/components\n` +
      `geoip_db =\nworkers = ${WORKERS}\n[tsng:qpc]\noutbound = tcp://127.0.0.1:${outbound}\n`,
  );
  const settings = await readSettings(ini, silentLogger);
  if (settings === undefined) throw new Error(`soak: ${ini} does not load`);
  const command = startCommand(settings, await serveEndpoints(settings), ["--config", ini]);
  // Its log goes nowhere: a pipe nobody reads would fill and stop the sensor.
  const sensor = new Deno.Command(command.command, {
    args: command.args,
    stdout: "null",
    stderr: "null",
  }).spawn();
  const push = new PushSocket({ hwm: 100_000 });
  try {
    push.connect(`tcp://127.0.0.1:${input}`);
    await serving(api);
    console.log(
      `qts serve, ${WORKERS} workers, fed ${RATE} requests/s (two halves each, fresh ids) for ${SECONDS} s`,
    );
    const stream = halves(8192, 100_000);
    const start = performance.now();
    let message = 0;
    let sent = 0;
    let lastCpu = cpuSeconds(sensor.pid);
    let lastAt = start;
    const shares: number[] = [];
    for (;;) {
      const now = performance.now();
      if (now - start >= SECONDS * 1000) break;
      for (const due = Math.floor((now - start) / 1000 * RATE); sent < due; sent++) {
        await push.send(stream(message++));
        await push.send(stream(message++));
      }
      if (now - lastAt >= INTERVAL_S * 1000) {
        const cpu = cpuSeconds(sensor.pid);
        const share = (cpu - lastCpu) / ((now - lastAt) / 1000);
        shares.push(share);
        console.log(
          `  ${((now - start) / 1000).toFixed(0).padStart(4)} s  ${String(sent).padStart(8)} ` +
            `requests  sensor CPU ${(share * 100).toFixed(0).padStart(4)} % of a core`,
        );
        lastCpu = cpu;
        lastAt = now;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // What the sensor made of them: every half filtered, none dropped (or the CPU says little).
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const metrics = await (await fetch(`http://127.0.0.1:${api}/metrics`)).text();
    console.log(
      `  sensor: ${metricTotal(metrics, "qts_records_total")} records filtered, ` +
        `${metricTotal(metrics, "qts_input_dropped_total")} input messages dropped, ` +
        `of ${message} sent`,
    );
    if (shares.length >= 2) {
      console.log(
        `${"CPU after the 60 s ttl ÷ the first interval".padEnd(48)} ` +
          `${(shares.at(-1)! / shares[0]!).toFixed(2).padStart(14)} ×`,
      );
    }
  } finally {
    push.close();
    try {
      sensor.kill("SIGTERM");
    } catch { /* already gone */ }
    await sensor.status;
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await run();
