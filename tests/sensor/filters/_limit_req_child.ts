/**
 * A sensor-like process for the shared-limiter test: one limit_req_mc instance on memcached
 * (server in argv[0]); reads one request time (ms) per stdin line, answers one JSON line with
 * the events and counters.
 */
import { limitReqMc } from "../../../src/sensor/filters/limit_req_mc.ts";
import { memcachedStore } from "../../../src/sensor/memcached/memcached_store.ts";
import { ctxFor, rec } from "./_filter_ctx.ts";

const f = limitReqMc({
  enabled: true,
  skip_if: [],
  backend: "memcached",
  servers: [Deno.args[0]!],
  timeout_ms: 1000,
  ipv6_prefix: 64,
  configurations: [{
    name: "shared",
    host: "",
    method: "",
    path: "",
    location: "/",
    key: "ip",
    rate: Deno.args[1] ?? "10r/s",
    burst: Number(Deno.args[2] ?? 0),
    nodelay: true,
  }],
}, { sharedStore: memcachedStore() });
await f.ready();
const encoder = new TextEncoder();
let buffer = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  buffer += chunk;
  let nl: number;
  while ((nl = buffer.indexOf("\n")) >= 0) {
    const line = buffer.slice(0, nl);
    buffer = buffer.slice(nl + 1);
    const now = Number(line);
    const record = rec({ ip: "203.0.113.9" });
    const ctx = ctxFor(record, Number.isFinite(now) ? now : 0);
    if (Number.isFinite(now)) await f.run(record, ctx);
    await Deno.stdout.write(
      encoder.encode(JSON.stringify({ events: ctx.events, counters: f.counters() }) + "\n"),
    );
  }
}
await f.close?.();
