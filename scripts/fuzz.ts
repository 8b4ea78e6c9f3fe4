/**
 * `deno task fuzz`: seeded, time-bounded fuzzing of the input surfaces (issue 17).
 *
 *     deno task fuzz [--target wire|zmtp|pcap|config|http|proxy|all] [--count N] [--seconds S]
 *                    [--seed N] [--hang S] [--input FILE]
 *
 * Each target runs in its own worker for N inputs (default 1,000,000) or S seconds (default
 * 600, so the slowest target, config at ~3k inputs/s, reaches its million), whichever comes
 * first, printing the seed, progress every few seconds and inputs/s.
 * A failing or hanging input stops its target and is written to /tmp as `.bin` and `.hex`;
 * `--input FILE --target T` replays one such file in-process. Exit status 1 on any failure.
 * @module
 */

import { inputRng } from "./fuzz/_random.ts";
import { runTarget } from "./fuzz/run_target.ts";
import { TARGET_NAMES, type TargetName, targets } from "./fuzz/targets.ts";
import type { WorkerJob, WorkerReport } from "./fuzz/_worker.ts";

interface Args {
  targets: TargetName[];
  count: number;
  seconds: number;
  seed: number;
  hang: number;
  input?: string;
}

const USAGE =
  "usage: deno task fuzz [--target wire|zmtp|pcap|config|http|proxy|all] [--count N] [--seconds S] " +
  "[--seed N] [--hang S] [--input FILE]";

function parseArgs(argv: string[]): Args {
  const args: Args = {
    targets: [...TARGET_NAMES],
    count: 1_000_000,
    seconds: 600,
    seed: (Math.random() * 0x1_0000_0000) >>> 0,
    hang: 30,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const [name, inline] = flag.includes("=") ? flag.split("=", 2) as [string, string] : [flag];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new TypeError(`${name} needs a value\n${USAGE}`);
      return v;
    };
    const number = (): number => {
      const v = value();
      const n = Number(v);
      if (!/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(n)) {
        throw new TypeError(`${name}: "${v}" is not a number\n${USAGE}`);
      }
      return n;
    };
    switch (name) {
      case "--target": {
        const v = value();
        if (v === "all") args.targets = [...TARGET_NAMES];
        else {
          const names = v.split(",");
          for (const n of names) {
            if (!(TARGET_NAMES as readonly string[]).includes(n)) {
              throw new TypeError(`--target: unknown target "${n}"\n${USAGE}`);
            }
          }
          args.targets = names as TargetName[];
        }
        break;
      }
      case "--count":
        args.count = Math.floor(number());
        break;
      case "--seconds":
        args.seconds = number();
        break;
      case "--seed":
        args.seed = Math.floor(number()) >>> 0;
        break;
      case "--hang":
        args.hang = number();
        break;
      case "--input":
        args.input = value();
        break;
      case "--help":
      case "-h":
        console.log(USAGE);
        Deno.exit(0);
        break;
      default:
        throw new TypeError(`unknown argument ${flag}\n${USAGE}`);
    }
  }
  return args;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function saveInput(target: string, seed: number, index: number, input: Uint8Array): string {
  const base = `/tmp/qts-fuzz-${target}-seed${seed}-i${index}`;
  Deno.writeFileSync(`${base}.bin`, input);
  Deno.writeTextFileSync(`${base}.hex`, hex(input) + "\n");
  return `${base}.bin`;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

interface Summary {
  target: string;
  inputs: number;
  seconds: number;
  rate: number;
  stoppedBy: string;
  heapMb: number;
  failed: boolean;
}

/** Runs one target in a worker; resolves with its summary (failures are printed and saved). */
function runInWorker(name: TargetName, args: Args): Promise<Summary> {
  const shared = new SharedArrayBuffer(4);
  const current = new Int32Array(shared);
  const worker = new Worker(new URL("./fuzz/_worker.ts", import.meta.url), { type: "module" });
  const job: WorkerJob = {
    target: name,
    seed: args.seed,
    count: args.count,
    seconds: args.seconds,
    root: Deno.cwd(),
    shared,
  };
  const t0 = performance.now();
  let last = t0;
  let lastDone = 0;
  return new Promise((resolve) => {
    const watchdog = setInterval(() => {
      if (performance.now() - last < args.hang * 1000) return;
      clearInterval(watchdog);
      const index = Atomics.load(current, 0);
      worker.terminate();
      console.log(`[${name}] HANG: no progress for ${args.hang} s at input ${index}`);
      if (index >= 0) {
        const target = targets(name, { root: Deno.cwd(), loopbackInputs: 0 });
        const input = target.generate(inputRng(args.seed, index), index);
        void target.close?.();
        const file = saveInput(name, args.seed, index, input);
        console.log(`[${name}] seed ${args.seed}, input ${index} (${input.length} bytes): ${file}`);
        console.log(`[${name}] replay: deno task fuzz --target ${name} --input ${file}`);
      } else console.log(`[${name}] the hang is in the final (loopback) phase`);
      resolve({
        target: name,
        inputs: lastDone,
        seconds: (performance.now() - t0) / 1000,
        rate: 0,
        stoppedBy: "hang",
        heapMb: 0,
        failed: true,
      });
    }, 1000);
    worker.onmessage = (event: MessageEvent<WorkerReport>) => {
      const report = event.data;
      last = performance.now();
      if (report.type === "progress") {
        lastDone = report.done;
        const rate = report.done / (report.elapsedMs / 1000);
        console.log(
          `[${name}] ${fmt(report.done)} inputs, ${(report.elapsedMs / 1000).toFixed(0)} s, ` +
            `${fmt(rate)}/s, heap ${report.heapMb} MB`,
        );
        return;
      }
      clearInterval(watchdog);
      worker.terminate();
      const seconds = report.elapsedMs / 1000;
      const rate = report.inputs / seconds;
      const why = report.stoppedBy === "count"
        ? `count ${fmt(args.count)} reached`
        : report.stoppedBy === "time"
        ? `time bound ${args.seconds} s reached`
        : "failure";
      console.log(
        `[${name}] done: ${fmt(report.inputs)} inputs in ${seconds.toFixed(1)} s ` +
          `(${fmt(rate)}/s), stopped: ${why}; kinds ${JSON.stringify(report.kinds)}`,
      );
      if (report.failure) {
        const f = report.failure;
        console.log(`[${name}] FAILURE (${f.phase}) with seed ${args.seed}:\n${f.error}`);
        if (f.index >= 0) {
          const file = saveInput(name, args.seed, f.index, f.input);
          console.log(`[${name}] input ${f.index} (${f.input.length} bytes): ${file}`);
          if (f.input.length <= 512) console.log(`[${name}] hex ${hex(f.input)}`);
          console.log(`[${name}] replay: deno task fuzz --target ${name} --input ${file}`);
        }
      }
      resolve({
        target: name,
        inputs: report.inputs,
        seconds,
        rate,
        stoppedBy: report.failure ? "failure" : report.stoppedBy,
        heapMb: report.heapMb,
        failed: report.failure !== undefined,
      });
    };
    worker.onerror = (event) => {
      event.preventDefault();
      clearInterval(watchdog);
      const index = Atomics.load(current, 0);
      console.log(`[${name}] WORKER CRASH at input ${index}: ${event.message}`);
      resolve({
        target: name,
        inputs: lastDone,
        seconds: (performance.now() - t0) / 1000,
        rate: 0,
        stoppedBy: "crash",
        heapMb: 0,
        failed: true,
      });
    };
    worker.postMessage(job);
  });
}

async function replay(args: Args): Promise<boolean> {
  const input = Deno.readFileSync(args.input!);
  let ok = true;
  for (const name of args.targets) {
    const target = targets(name, { root: Deno.cwd(), loopbackInputs: 0 });
    try {
      await target.check(input);
      console.log(`[${name}] ${args.input}: properties hold`);
    } catch (error) {
      ok = false;
      console.log(`[${name}] ${args.input}: FAILURE`);
      console.log(error);
    } finally {
      await target.close?.();
    }
  }
  return ok;
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(Deno.args);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  if (args.input !== undefined) return (await replay(args)) ? 0 : 1;
  console.log(
    `fuzz seed ${args.seed}: ${args.targets.join(", ")}; up to ${fmt(args.count)} inputs or ` +
      `${args.seconds} s per target (reproduce: --seed ${args.seed})`,
  );
  const summaries: Summary[] = [];
  for (const name of args.targets) summaries.push(await runInWorker(name, args));
  console.log(`\nseed ${args.seed}`);
  console.log("target   inputs        seconds  inputs/s   stopped by  heap MB  result");
  for (const s of summaries) {
    console.log(
      `${s.target.padEnd(8)} ${fmt(s.inputs).padStart(12)}  ${s.seconds.toFixed(1).padStart(7)}  ` +
        `${fmt(s.rate).padStart(8)}   ${s.stoppedBy.padEnd(10)}  ${
          String(s.heapMb).padStart(7)
        }  ` +
        `${s.failed ? "FAILED" : "ok"}`,
    );
  }
  return summaries.some((s) => s.failed) ? 1 : 0;
}

// Exported for the short test, which runs targets in-process.
export { runTarget, targets };

if (import.meta.main) Deno.exit(await main());
