/**
 * Memory per tracked IP of the full default chain with every filter on (request_hash_score
 * too): N distinct client addresses, one complete request each, through one domain's chain.
 * Run by `filters_bench.ts` in its own process with `--v8-flags=--expose-gc`, so garbage is
 * collected before each reading; prints one JSON object: the heap growth (V8 heap and the
 * typed arrays' backing stores) per IP, and the filters' own state sizes, in total and by filter.
 */
import { context, defaultChain, everyFilter, sample } from "./_bench_chain.ts";

const gc = (globalThis as { gc?: () => void }).gc;

function used(): number {
  gc?.();
  gc?.();
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
}

if (import.meta.main) {
  const n = Number(Deno.args[0] ?? 1_000_000);
  const chain = await defaultChain(everyFilter);
  const base = 1_700_000_000_000;
  const record = sample(1);
  // Lazily made tables and caches (User-Agents, compiled patterns) exist before the baseline.
  for (let i = 0; i < 1000; i++) {
    const r = sample(i);
    chain.run(r, context(r, base));
  }
  const before = used();
  const stateBefore = chain.state();
  for (let i = 0; i < n; i++) {
    record.remote_ip = (0x0b000000 + i) >>> 0;
    record.url = `/p${i & 7}`;
    record.qrator_request_id = `ip${i}`;
    chain.run(record, context(record, base + i));
  }
  const after = used();
  const state = chain.state();
  const byFilter: Record<string, number> = {};
  for (const f of state.filters) byFilter[f.name] = (byFilter[f.name] ?? 0) + f.bytes;
  for (const f of stateBefore.filters) byFilter[f.name] = (byFilter[f.name] ?? 0) - f.bytes;
  console.log(JSON.stringify({
    n,
    gc: gc !== undefined,
    heapPerIp: (after - before) / n,
    statePerIp: (state.bytes - stateBefore.bytes) / n,
    byFilter: Object.fromEntries(Object.entries(byFilter).map(([k, v]) => [k, v / n])),
  }));
  await chain.close();
}
