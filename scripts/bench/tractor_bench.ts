/**
 * `deno task bench tractor`: a TrActor job on a generated ~27 MB capture (2,000 renumbered copies
 * of the committed loopback capture, 24,000 flows), analysis alone vs the whole job (labelling +
 * SQLite writes + aggregates) in the job Worker, then API latencies on the result.
 */
import { join } from "node:path";
import { analyzeCapture } from "../../src/analyzer/analyze/analyze_capture.ts";
import { CaptureRepository } from "../../src/analyzer/tractor/capture_repository.ts";
import { startTractor } from "../../src/analyzer/tractor/start_tractor.ts";
import { writeLargeCapture } from "../../tests/analyzer/tractor/_large_capture.ts";
import { ratio, report } from "./_measure.ts";

const COPIES = 2000;

async function perRequest(
  app: { request(path: string): Response | Promise<Response> },
  path: string,
  n: number,
) {
  for (let i = 0; i < 5; i++) await (await app.request(path)).arrayBuffer();
  const start = performance.now();
  for (let i = 0; i < n; i++) await (await app.request(path)).arrayBuffer();
  return (performance.now() - start) / n;
}

/** Prints the figures. */
export async function run(): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "qts-tractor-bench-" });
  try {
    const captures = join(root, "captures");
    await Deno.mkdir(captures);
    const path = join(captures, "big.pcap");
    const size = await writeLargeCapture(path, COPIES);
    report("capture size", size / 1e6, "MB");

    let t = performance.now();
    let flows = 0;
    await analyzeCapture(path, {}, () => flows++);
    const analyzeS = (performance.now() - t) / 1000;
    report("analyzeCapture alone (no labels)", size / 1e6 / analyzeS, "MB/s");

    const tractor = await startTractor({ capturesDir: captures, stateDir: join(root, "state") });
    try {
      t = performance.now();
      const capture = await new CaptureRepository(captures).resolve("big.pcap");
      const submitted = await tractor.runner.submit(capture!);
      const job = await tractor.runner.waitFor(submitted.id);
      const jobS = (performance.now() - t) / 1000;
      report("job in Worker (label + SQLite + aggregates)", size / 1e6 / jobS, "MB/s");
      report("job flows", job.flowsCount ?? 0, "flows");
      report("job throughput", (job.flowsCount ?? 0) / jobS, "flows/s");
      ratio("job time / analysis time", jobS / analyzeS);
      let dbSize = 0;
      for (const suffix of ["", "-wal"]) {
        dbSize += await Deno.stat(join(root, "state", `tractor.sqlite${suffix}`)).then(
          (s) => s.size,
          () => 0,
        );
      }
      report("database size per flow", dbSize / Math.max(1, job.flowsCount ?? 1), "bytes");
      const app = tractor.app;
      report("GET /files/list", (await perRequest(app, "/files/list", 200)) * 1000, "µs/request");
      report(
        "GET /file/{id}/statistics",
        (await perRequest(app, `/file/${job.id}/statistics`, 50)) * 1000,
        "µs/request",
      );
      const top = ((await (await app.request(`/file/${job.id}/statistics`)).json()) as {
        content: { label: string }[];
      }[])[0]!.content[0]!.label;
      report(
        `GET statistics/labels?label=${top}`,
        (await perRequest(app, `/file/${job.id}/statistics/labels?label=${top}`, 50)) * 1000,
        "µs/request",
      );
      report(
        "GET statistics/ip (a client)",
        (await perRequest(app, `/file/${job.id}/statistics/ip?ip=10.1.3.7`, 200)) * 1000,
        "µs/request",
      );
      report(
        `GET flows/labels?label=${top}&limit=1000`,
        (await perRequest(app, `/file/${job.id}/flows/labels?label=${top}&limit=1000`, 50)) *
          1000,
        "µs/request",
      );
    } finally {
      await tractor.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

if (import.meta.main) await run();
