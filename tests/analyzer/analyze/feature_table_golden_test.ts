/**
 * The feature table, ARFF rows and flow records of real captures, byte for byte as the analyzer
 * wrote them before its hot path was reworked for speed (issue 19), and a digest of the same for
 * the capture `deno task bench capture` generates (tens of thousands of packets, thousands of
 * concurrent flows, IPv4 and IPv6). `QTS_UPDATE_GOLDEN=1` rewrites them: only for an intended
 * change of the output.
 */
import assert from "node:assert/strict";
import { analyzeCapture } from "../../../src/analyzer/analyze/analyze_capture.ts";
import { arffRow, seedCsvRow } from "../../../src/analyzer/analyze/feature_table.ts";
import { flowRecord } from "../../../src/analyzer/analyze/flow_record.ts";
import { flowFeatures } from "../../../src/analyzer/flows/flow_features.ts";
import { generateCapture } from "../../../scripts/bench/capture_bench.ts";

const CAPTURES = new URL("../../fixtures/captures/", import.meta.url);
const GOLDEN = new URL("feature-tables/", CAPTURES);
const update = Deno.env.get("QTS_UPDATE_GOLDEN") === "1";

/** CSV row, ARFF row and JSON record of every flow, then the summary. */
async function tableOf(path: string): Promise<string> {
  const parts: string[] = [];
  const summary = await analyzeCapture(path, {}, (flow) => {
    const features = flowFeatures(flow);
    parts.push(
      seedCsvRow(features, flow.label),
      arffRow(features, flow.label),
      `${JSON.stringify(flowRecord(flow))}\n`,
    );
  });
  const { error, ...rest } = summary;
  parts.push(`${JSON.stringify({ ...rest, error: error?.message ?? null })}\n`);
  return parts.join("");
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

const real = [
  ...[...Deno.readDirSync(new URL("apps/", CAPTURES))]
    .filter((e) => e.name.endsWith(".pcap.gz"))
    .map((e) => `apps/${e.name}`),
  "loopback-sll2.pcap",
  "loopback-sll2.pcapng",
].sort();

for (const name of real) {
  Deno.test(`analyzeCapture() writes the recorded feature table of ${name} byte for byte`, async () => {
    const text = await tableOf(new URL(name, CAPTURES).pathname);
    const golden = new URL(`${name.replace(/^apps\//, "").replace(/\.gz$/, "")}.txt`, GOLDEN);
    if (update) await Deno.writeTextFile(golden, text);
    assert.equal(text, await Deno.readTextFile(golden));
  });
}

Deno.test("analyzeCapture() writes the recorded feature table of the bench's generated capture", async () => {
  const path = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    await generateCapture(path, 24 * 1024 * 1024);
    const text = await tableOf(path);
    const rows = text.split("\n").length;
    const digestFile = new URL("bench-24MB.sha256", GOLDEN);
    const line = `${await sha256(text)} ${rows}\n`;
    if (update) await Deno.writeTextFile(digestFile, line);
    assert.ok(rows > 10_000, `${rows} lines`);
    assert.equal(line, await Deno.readTextFile(digestFile));
  } finally {
    await Deno.remove(path);
  }
});
