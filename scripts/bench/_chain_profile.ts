/**
 * The filters bench's batched full-chain section alone, for a CPU profile or a GC trace:
 * `deno run --allow-read --allow-env --cpu-prof scripts/bench/_chain_profile.ts [records]
 * [decode]` (`decode`: decode + context only, no chain). Not run by `deno task bench`.
 */
import { decodeRecord, encodeRecord, type HttpRecord } from "../../src/sensor/wire/mod.ts";
import type { RequestContext } from "../../src/sensor/filters/types.ts";
import { context, defaultChain, sample } from "./_bench_chain.ts";
import { cpuUsage } from "node:process";

const BATCH = 64;
const n = Number(Deno.args[0] ?? 600_000);
const decodeOnly = Deno.args[1] === "decode";
const base = 1_700_000_000_000;
const bodies = Array.from({ length: 8192 }, (_, i) => encodeRecord(sample(i)));
const chain = await defaultChain();
const records: HttpRecord[] = [];
const ctxs: RequestContext[] = [];
let events = 0;
const start = cpuUsage();
for (let j = 0; j < n / BATCH; j++) {
  records.length = 0;
  ctxs.length = 0;
  for (let k = 0; k < BATCH; k++) {
    const i = j * BATCH + k;
    const result = decodeRecord(bodies[i & 8191]!);
    if (!result.ok) continue;
    records.push(result.record);
    ctxs.push(context(result.record, base + i));
  }
  if (!decodeOnly) chain.runBatch(records, ctxs);
  for (const ctx of ctxs) events += ctx.events.length;
}
const used = cpuUsage(start);
const secs = (used.user + used.system) / 1e6;
console.log(`${n} records, ${(n / secs).toFixed(0)} rec/s, ${events} events`);
await chain.close();
