import { decodeRecord, encodeRecord, type HttpRecord } from "../../src/sensor/wire/mod.ts";
import type { RequestContext } from "../../src/sensor/filters/types.ts";
import { lua } from "../../src/sensor/filters/lua.ts";
import { context, sample } from "./_bench_chain.ts";
import { cpuUsage } from "node:process";
const variants: Record<string, string> = {
  noop: `function allow_a(req) return false end function deny_b(req) return false end`,
  fields:
    `function allow_a(req) local m = req.method local u = req.url local r = req.remote_addr return false end function deny_b(req) return false end`,
  default: "",
};
const decoded = Array.from({ length: 8192 }, (_, i) => {
  const r = decodeRecord(encodeRecord(sample(i)));
  if (!r.ok) throw 0;
  return r.record;
});
const ctxs0 = decoded.map((r, i) => context(r, 1.7e12 + i));
for (const [name, src] of Object.entries(variants)) {
  const f = await lua({
    enabled: true,
    skip_if: [],
    scripts: [{ file: src ? "x.lua" : "default.lua" }],
    instruction_budget: 100000,
    memory_limit_mb: 64,
  }, {
    readFile: (n) =>
      src && n === "x.lua" ? Promise.resolve(src) : Promise.reject(new Deno.errors.NotFound(n)),
  });
  const records: HttpRecord[] = [];
  const ctxs: RequestContext[] = [];
  const N = 500000;
  const c0 = cpuUsage();
  for (let j = 0; j < N / 64; j++) {
    records.length = 0;
    ctxs.length = 0;
    for (let k = 0; k < 64; k++) {
      const i = (j * 64 + k) & 8191;
      records.push(decoded[i]!);
      const c = ctxs0[i]!;
      c.events.length = 0;
      ctxs.push(c);
    }
    f.allow.runBatch!(records, ctxs);
    for (let k = 0; k < 64; k++) f.deny.run(records[k]!, ctxs[k]!);
  }
  const c = cpuUsage(c0);
  console.log(name, ((c.user + c.system) / N).toFixed(3), "µs/rec cpu");
  f.allow.close!();
}
