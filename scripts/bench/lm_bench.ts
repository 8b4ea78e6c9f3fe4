/**
 * `deno task bench lm`: cost of ListManager.onEvents on the hot path and of the 30 s tick.
 * Figures only; no pass/fail on timing.
 */
import { COMPONENT_SCHEMAS } from "../../src/shared/config/components.ts";
import { validate } from "../../src/shared/config/schema.ts";
import type { ProjectionConfig } from "../../src/shared/config/components.ts";
import { formatCommand, ListManager } from "../../src/sensor/lm/mod.ts";

function projection(over: Partial<ProjectionConfig> & { name: string }): ProjectionConfig {
  // Filled by the schema itself, so a new projection field gets its default here too.
  return validate(COMPONENT_SCHEMAS.lm.fields.projections.items, {
    events: "^loc_rate_",
    state: "enabled",
    skip_if: ["whitelisted"],
    ...over,
  }, "projection") as ProjectionConfig;
}

// The embedded defaults' shape: one projection per built-in event family.
const PROJECTIONS = [
  projection({ name: "rate", events: "^loc_rate_" }),
  projection({ name: "uas", events: "^many_uas$" }),
  projection({ name: "hash", events: "^hash_score_" }),
  projection({ name: "fixed", events: "^fixed_" }),
  projection({ name: "lua", events: "^lua_" }),
];

// Built once: ingest hands the LM an address string it already has.
const IPS = Array.from(
  { length: 300_000 },
  (_, i) => `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`,
);

function ipOf(i: number): string {
  return IPS[i % IPS.length]!;
}

function manager(
  projections: ProjectionConfig[],
  clock: { t: number; now(): number },
): { lm: ListManager; count: () => number } {
  let n = 0;
  const lm = new ListManager({ emit: () => n++, hostname: "bench", clock });
  lm.configure(1, { lists: [], projections, use_component_projections: false });
  return { lm, count: () => n };
}

function measure(label: string, n: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(n, 10_000); i++) fn(i); // warm-up
  const start = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  const ns = (performance.now() - start) * 1e6 / n;
  console.log(`${label.padEnd(58)} ${ns.toFixed(0).padStart(6)} ns/call`);
  return ns;
}

/** Prints ns per onEvents call in the typical cases and the cost of a tick. */
export async function run(): Promise<void> {
  const clock = {
    t: 1_700_000_000_000,
    now() {
      return this.t;
    },
  };
  const flags = new Map<string, boolean>([["static", false]]);
  const N = 1_000_000;

  const idle = manager(PROJECTIONS, clock);
  const none = measure("onEvents, no events (most requests)", N, (i) => {
    idle.lm.onEvents(1, ipOf(i & 0xffff), [], flags, 1);
  });
  const miss = measure("onEvents, 1 event matching no projection", N, (i) => {
    idle.lm.onEvents(1, ipOf(i & 0xffff), ["ua_bot"], flags, 1);
  });

  // An attack: 50k IPs already banned keep sending until the firewall catches up.
  const banned = manager(PROJECTIONS, clock);
  for (let i = 0; i < 50_000; i++) banned.lm.onEvents(1, ipOf(i), ["loc_rate_z_GET/"], flags, 1);
  const hit = measure("onEvents, block mode, IP already banned (attack)", N, (i) => {
    banned.lm.onEvents(1, ipOf(i % 50_000), ["loc_rate_z_GET/"], flags, 1);
  });

  const fresh = manager(PROJECTIONS, clock);
  const add = measure("onEvents, block mode, new IP → add (emit counted)", 200_000, (i) => {
    fresh.lm.onEvents(1, ipOf(i + 100_000), ["loc_rate_z_GET/", "many_uas"], flags, 1);
  });

  const nursery = manager(
    [projection({ name: "rate", state: "auto", nursery: { events: 1e9, ips: 0 } })],
    clock,
  );
  const nurs = measure("onEvents, nursery mode (counting only)", N, (i) => {
    nursery.lm.onEvents(1, ipOf(i & 0xffff), ["loc_rate_z_GET/"], flags, 1);
  });

  const watch = manager(
    [projection({ name: "rate", state: "auto", activation: { events: 1e9, ips: 0 } })],
    clock,
  );
  const wat = measure("onEvents, watch mode, 100k IPs", N, (i) => {
    watch.lm.onEvents(1, ipOf(i % 100_000), ["loc_rate_z_GET/"], flags, 1);
  });

  // A botnet: every call a source never seen, so past the evidence book's 100k sources each
  // one evicts the oldest (a Map trimmed from the front made this ~50 µs a call).
  const botnet = manager(
    [projection({ name: "rate", state: "auto", nursery: { events: 1e9, ips: 0 } })],
    clock,
  );
  for (let i = 0; i < 100_000; i++) botnet.lm.onEvents(1, ipOf(i), ["loc_rate_z_GET/"], flags, 1);
  measure("onEvents, nursery, new source past 100k evidence sources", 190_000, (i) => {
    botnet.lm.onEvents(1, ipOf(100_000 + i), ["loc_rate_z_GET/"], flags, 1);
  });

  // Tick with 100k watched IPs turning into adds at activation.
  const activating = manager(
    [projection({ name: "rate", state: "auto", activation: { events: 1, ips: 0 } })],
    clock,
  );
  for (let i = 0; i < 100_000; i++) {
    activating.lm.onEvents(1, ipOf(i), ["loc_rate_z_GET/"], flags, 1);
  }
  clock.t += 30_000;
  let start = performance.now();
  activating.lm.tick();
  const activationMs = performance.now() - start;
  console.log(
    `tick, watch → block with 100k watched IPs: ${activationMs.toFixed(1)} ms ` +
      `(${activating.count()} adds)`,
  );
  clock.t += 30_000;
  start = performance.now();
  activating.lm.tick();
  console.log(
    `tick, no transition, sweeping 100k active bans: ${(performance.now() - start).toFixed(2)} ms`,
  );

  // The state file with 100k active bans: the debounced save serialises this much.
  const dir = await Deno.makeTempDir({ prefix: "qts_lm_bench_" });
  try {
    const saving = new ListManager({
      emit: () => {},
      hostname: "bench",
      clock,
      stateFile: `${dir}/lm.json`,
    });
    saving.configure(1, { lists: [], projections: PROJECTIONS, use_component_projections: false });
    for (let i = 0; i < 100_000; i++) saving.onEvents(1, ipOf(i), ["loc_rate_z_GET/"], flags, 1);
    start = performance.now();
    await saving.save();
    const saveMs = performance.now() - start;
    const size = (await Deno.stat(`${dir}/lm.json`)).size;
    const restoring = new ListManager({
      emit: () => {},
      hostname: "bench",
      clock,
      stateFile: `${dir}/lm.json`,
    });
    start = performance.now();
    await restoring.restore();
    console.log(
      `save 100k bans: ${saveMs.toFixed(0)} ms, ${(size / 1e6).toFixed(1)} MB; ` +
        `restore: ${(performance.now() - start).toFixed(0)} ms`,
    );
    await saving.close();
    await restoring.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }

  const cmd = {
    domain_id: 8984,
    comment: "loc_rate_def1_GET/",
    rule_name: "tsng.location_rate",
    method: "add" as const,
    ip_addr: "1.2.3.4",
    geo: "US",
    timestamp: 1669808971.274,
    timeout: 5183,
    worker: "wrk_1",
    broadcast: false as const,
    hoplite: "bench",
  };
  const fmt = measure("formatCommand", N, () => formatCommand(cmd));
  console.log(
    `ratios: miss/none ${(miss / none).toFixed(1)}, banned/miss ${(hit / miss).toFixed(1)}, ` +
      `add/banned ${(add / hit).toFixed(1)}, nursery/banned ${(nurs / hit).toFixed(1)}, ` +
      `watch/banned ${(wat / hit).toFixed(1)}, formatCommand/add ${(fmt / add).toFixed(2)}`,
  );
}
