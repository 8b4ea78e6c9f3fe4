import assert from "node:assert/strict";
import type { Flow } from "../../../src/analyzer/flows/mod.ts";

/** Frames per direction (from the lexically smaller endpoint) and frame bytes of one conversation. */
export interface Totals {
  ab: number;
  ba: number;
  bytes: number;
  /** tshark's displayed total ("45 kB"), when parsed from its conversation table. */
  shownBytes?: string;
}

/** Key of a conversation regardless of direction. */
export function convKey(proto: string, x: string, y: string): string {
  return x <= y ? `${proto} ${x} ${y}` : `${proto} ${y} ${x}`;
}

/** Parses `tshark -q -z conv,tcp -z conv,udp` (frames per direction; bytes as displayed). */
export function parseConversations(text: string): Map<string, Totals> {
  const out = new Map<string, Totals>();
  let proto = "";
  const size = String.raw`(\d+ (?:bytes|kB|MB|GB))`;
  const row = new RegExp(
    String.raw`^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+(\d+) ${size}\s+(\d+) ${size}\s+(\d+) ${size}`,
  );
  for (const line of text.split("\n")) {
    if (line.startsWith("TCP Conversations")) proto = "tcp";
    else if (line.startsWith("UDP Conversations")) proto = "udp";
    const m = row.exec(line);
    if (!m) continue;
    const [, a, pa, b, pb, ba, , ab, , total, shown] = m;
    // "<-" is B→A, "->" is A→B.
    const aFirst = `${a}:${pa}` <= `${b}:${pb}`;
    assert.equal(Number(ab) + Number(ba), Number(total));
    out.set(convKey(proto, `${a}:${pa}`, `${b}:${pb}`), {
      ab: aFirst ? Number(ab) : Number(ba),
      ba: aFirst ? Number(ba) : Number(ab),
      bytes: 0,
      shownBytes: shown!,
    });
  }
  return out;
}

/** Adds exact frame bytes from `tshark -T fields -e ip.src -e ip.dst -e tcp/udp ports -e frame.len`. */
export function addFieldBytes(conversations: Map<string, Totals>, fields: string): void {
  for (const line of fields.trim().split("\n")) {
    const [src, dst, ts, td, us, ud, len] = line.split(",");
    const proto = ts ? "tcp" : "udp";
    const key = convKey(proto, `${src}:${ts || us}`, `${dst}:${td || ud}`);
    const t = conversations.get(key);
    assert.ok(t, `tshark fields list ${key} but its conversation table does not`);
    t.bytes += Number(len);
  }
}

/** Value range a tshark size string stands for (it truncates to whole kB/MB). */
export function sizeRange(shown: string): [number, number] {
  const [n, unit] = shown.split(" ") as [string, string];
  const mult = { bytes: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[unit]!;
  return mult === 1 ? [Number(n), Number(n)] : [Number(n) * mult, (Number(n) + 1) * mult];
}

/** Our flows summed per TCP/UDP conversation, in the same shape. */
export function conversationsOf(flows: Flow[]): Map<string, Totals> {
  const ours = new Map<string, Totals>();
  for (const f of flows) {
    const proto = f.protocol === 6 ? "tcp" : f.protocol === 17 ? "udp" : "";
    if (!proto) continue;
    const src = `${f.srcAddress}:${f.srcPort}`;
    const dst = `${f.dstAddress}:${f.dstPort}`;
    const key = convKey(proto, src, dst);
    const t = ours.get(key) ?? { ab: 0, ba: 0, bytes: 0 };
    const srcFirst = src <= dst;
    t.ab += srcFirst ? f.packets[0] : f.packets[1];
    t.ba += srcFirst ? f.packets[1] : f.packets[0];
    t.bytes += f.frameBytes[0] + f.frameBytes[1];
    ours.set(key, t);
  }
  return ours;
}

/** Asserts that our conversations equal tshark's: same set, frames per direction, exact bytes. */
export function assertSameConversations(
  ours: Map<string, Totals>,
  theirs: Map<string, Totals>,
): void {
  assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort());
  for (const [key, t] of theirs) {
    const o = ours.get(key)!;
    assert.deepEqual([o.ab, o.ba], [t.ab, t.ba], `frames per direction of ${key}`);
    assert.equal(o.bytes, t.bytes, `bytes of ${key}`);
    const [lo, hi] = sizeRange(t.shownBytes!);
    assert.ok(o.bytes >= lo && o.bytes <= hi, `${key}: ${o.bytes} vs tshark's "${t.shownBytes}"`);
  }
}
