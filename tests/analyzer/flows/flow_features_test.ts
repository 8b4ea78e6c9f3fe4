import assert from "node:assert/strict";
import { featureNames, flowFeatures } from "../../../src/analyzer/flows/mod.ts";
import { ethernet, type Frame, ipPacket, pcap } from "../../shared/capture/_capture_builder.ts";
import { flowsOf } from "./_flow_helpers.ts";

/** Straightforward reference implementation over explicit packet lists (not the table's code). */
function reference(
  times: number[],
  dirs: number[],
  sizes: number[],
): Record<string, number | null> {
  const diffs = (ts: number[]) => ts.slice(1).map((t, i) => t - ts[i]!);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = (xs: number[]) => {
    if (xs.length < 2) return 0;
    const m = mean(xs);
    return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
  };
  const out: Record<string, number | null> = {};
  const duration = times[times.length - 1]! - times[0]!;
  out.duration = duration;
  for (const [name, d] of [["f", 0], ["b", 1]] as const) {
    const iat = diffs(times.filter((_, i) => dirs[i] === d));
    out[`total_${name}iat`] = iat.length ? iat.reduce((a, b) => a + b, 0) : null;
    out[`min_${name}iat`] = iat.length ? Math.min(...iat) : null;
    out[`max_${name}iat`] = iat.length ? Math.max(...iat) : null;
    out[`mean_${name}iat`] = iat.length ? mean(iat) : null;
  }
  out.flowPktsPerSecond = times.length / (duration / 1e6);
  out.flowBytesPerSecond = sizes.reduce((a, b) => a + b, 0) / (duration / 1e6);
  const flowIat = diffs(times);
  out.min_flowiat = Math.min(...flowIat);
  out.max_flowiat = Math.max(...flowIat);
  out.mean_flowiat = mean(flowIat);
  out.std_flowiat = std(flowIat);
  const active: number[] = [];
  const idle: number[] = [];
  let lastBreak = times[0]!;
  for (let i = 1; i < times.length; i++) {
    const gap = times[i]! - times[i - 1]!;
    if (gap > 1_000_000) {
      idle.push(gap);
      active.push(times[i]! - lastBreak);
      lastBreak = times[i]!;
    }
  }
  for (const [name, xs] of [["active", active], ["idle", idle]] as const) {
    out[`min_${name}`] = xs.length ? Math.min(...xs) : null;
    out[`mean_${name}`] = xs.length ? mean(xs) : null;
    out[`max_${name}`] = xs.length ? Math.max(...xs) : null;
    out[`std_${name}`] = xs.length ? std(xs) : null;
  }
  return out;
}

Deno.test("flowFeatures() matches an independent computation on a 60-packet flow with idle gaps", async () => {
  // Deterministic pseudo-random gaps: mostly milliseconds, a few above one second.
  let seed = 12345;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const times: number[] = [];
  const dirs: number[] = [];
  const sizes: number[] = [];
  const frames: Frame[] = [];
  let t = 1_650_000_000_123_456;
  for (let i = 0; i < 60; i++) {
    if (i > 0) {
      t += rnd() < 0.1 ? 1_000_000 + Math.floor(rnd() * 3_000_000) : Math.floor(rnd() * 50_000);
    }
    const dir = i === 0 ? 0 : rnd() < 0.6 ? 0 : 1;
    const payload = Math.floor(rnd() * 1200);
    const ip = ipPacket({
      src: dir === 0 ? "172.16.0.1" : "172.16.0.9",
      dst: dir === 0 ? "172.16.0.9" : "172.16.0.1",
      proto: "udp",
      sport: dir === 0 ? 41000 : 443,
      dport: dir === 0 ? 443 : 41000,
      payload,
      ipId: i,
    });
    times.push(t);
    dirs.push(dir);
    sizes.push(20 + 8 + payload);
    frames.push({ tsUs: t, data: ethernet(ip) });
  }
  // A gap of exactly one second is not idle (strictly greater is).
  t += 1_000_000;
  times.push(t);
  dirs.push(1);
  sizes.push(28);
  frames.push({
    tsUs: t,
    data: ethernet(
      ipPacket({ src: "172.16.0.9", dst: "172.16.0.1", proto: "udp", sport: 443, dport: 41000 }),
    ),
  });

  const { flows } = await flowsOf(pcap(frames), { flowTimeoutUs: 3600e6 });
  assert.equal(flows.length, 1);
  const got = flowFeatures(flows[0]!);
  const want = reference(times, dirs, sizes);
  assert.ok((want.min_idle as number) > 1_000_000, "the test flow must contain idle gaps");
  for (const name of featureNames) {
    const g = got[name];
    const w = want[name]!;
    assert.ok(g !== null, name);
    assert.ok(Math.abs(g - w) <= 1e-9 * Math.max(1, Math.abs(w)), `${name}: got ${g}, want ${w}`);
  }
});

Deno.test("flowFeatures() leaves undefined values null for a one-packet flow", async () => {
  const { flows } = await flowsOf(pcap([{
    tsUs: 1_000_000,
    data: ethernet(ipPacket({ src: "1.2.3.4", dst: "5.6.7.8", proto: "udp", sport: 1, dport: 2 })),
  }]));
  const f = flowFeatures(flows[0]!);
  assert.equal(f.duration, 0);
  assert.equal(f.flowPktsPerSecond, 0);
  assert.equal(f.flowBytesPerSecond, 0);
  assert.equal(f.min_fiat, null);
  assert.equal(f.mean_flowiat, null);
  assert.equal(f.std_idle, null);
  assert.deepEqual(Object.keys(f), [...featureNames]);
});
