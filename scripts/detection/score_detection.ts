/**
 * Scores a ban tool's commands against a detection corpus's ground truth the way operators judge
 * CrowdSec or fail2ban: per class, how many sources were banned, how fast (log time from the
 * source's first request to its first `add`), and how many innocents were banned.
 * @module
 */
import type { ClassTruth, Kind, SourceTruth, Target, Truth } from "./generate_corpus.ts";

/** The fields of a sensor command the score reads (stdout of `qts replay --log`). */
export interface CommandLike {
  method: string;
  ip_addr: string;
  /** Unix seconds (log time of the decision). */
  timestamp: number;
  rule_name: string;
  comment: string;
  domain_id?: number;
}

/** The first ban that counts for one source. */
export interface SourceBan {
  source: string;
  first: number;
  /** Seconds from the source's first request to the ban. */
  timeToBan: number;
  command: CommandLike;
}

/** One class's figures. */
export interface ClassScore {
  name: string;
  kind: Kind;
  description: string;
  target?: Target;
  sources: number;
  banned: number;
  /** Attack sources never banned (0 for a benign class). */
  missed: number;
  /** Benign sources banned (0 for an attack class). */
  falseBans: number;
  /** Attack sources banned within the target's seconds. */
  withinTarget: number;
  /** Times to ban of the banned sources, ascending. */
  timeToBan: number[];
  median?: number;
  max?: number;
  /** Attack: the target's share banned in time. Benign: nobody banned. */
  targetHolds: boolean;
  bans: SourceBan[];
}

/** The whole score. */
export interface DetectionScore {
  classes: ClassScore[];
  falseBans: number;
  /** Adds that hit no source of the truth. */
  unknownAdds: CommandLike[];
  /** Adds that hit a source only before its first request (not counted as bans). */
  earlyAdds: number;
  adds: number;
  dels: number;
}

interface Net {
  v6: boolean;
  value: bigint;
  /** Prefix length; 32 or 128 for a single address. */
  bits: number;
}

function parseV4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(Number(part));
  }
  return value;
}

function parseV6(text: string): bigint | undefined {
  let head = text;
  let tail4: bigint | undefined;
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    // An embedded IPv4 tail (`::ffff:192.0.2.1`) stands for the last two groups.
    tail4 = parseV4(text.slice(lastColon + 1));
    if (tail4 === undefined) return undefined;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string) => s === "" ? [] : s.split(":");
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  let value = 0n;
  for (const group of [...left, ...Array<string>(missing).fill("0"), ...right]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  if (tail4 !== undefined) value = (value & ~0xffffffffn) | tail4;
  return value;
}

/** `::ffff:0:0/96` shifted right by 32: the IPv4-mapped block. */
const MAPPED_V4 = 0xffffn;

/** An address or CIDR prefix; an IPv4-mapped IPv6 address counts as its IPv4 address. */
export function parseNet(text: string): Net | undefined {
  const slash = text.indexOf("/");
  const address = (slash < 0 ? text : text.slice(0, slash)).trim();
  const length = slash < 0 ? undefined : text.slice(slash + 1).trim();
  if (length !== undefined && !/^\d{1,3}$/.test(length)) return undefined;
  const v4 = parseV4(address);
  if (v4 !== undefined) {
    const bits = length === undefined ? 32 : Number(length);
    return bits <= 32 ? { v6: false, value: v4, bits } : undefined;
  }
  const v6 = address.includes(":") ? parseV6(address) : undefined;
  if (v6 === undefined) return undefined;
  const bits = length === undefined ? 128 : Number(length);
  if (bits > 128) return undefined;
  if (v6 >> 32n === MAPPED_V4 && bits >= 96) {
    return { v6: false, value: v6 & 0xffffffffn, bits: bits - 96 };
  }
  return { v6: true, value: v6, bits };
}

/** Whether two networks share an address (one contains the other). */
function overlaps(a: Net, b: Net): boolean {
  if (a.v6 !== b.v6) return false;
  const shift = BigInt((a.v6 ? 128 : 32) - Math.min(a.bits, b.bits));
  return a.value >> shift === b.value >> shift;
}

function isSingle(net: Net): boolean {
  return net.bits === (net.v6 ? 128 : 32);
}

function keyOf(net: Net): string {
  return `${net.v6 ? 6 : 4}:${net.value.toString(16)}`;
}

interface Indexed {
  cls: number;
  source: SourceTruth;
  net: Net;
  ban?: SourceBan;
}

function median(sorted: readonly number[]): number | undefined {
  if (sorted.length === 0) return undefined;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Scores `commands` against `truth`. An `add` (for any domain) bans every source it covers: the
 * same address, an address inside a prefix source, or a prefix containing the source. Adds before
 * a source's first request do not count for it; `del`s are ignored.
 */
export function scoreDetection(truth: Truth, commands: readonly CommandLike[]): DetectionScore {
  const single = new Map<string, Indexed[]>();
  const all: Indexed[] = [];
  const prefixes: Indexed[] = [];
  truth.classes.forEach((c, cls) => {
    for (const source of c.sources) {
      const net = parseNet(source.source);
      if (net === undefined) throw new Error(`truth: "${source.source}" is not an address`);
      const entry: Indexed = { cls, source, net };
      all.push(entry);
      if (isSingle(net)) {
        const key = keyOf(net);
        single.set(key, [...(single.get(key) ?? []), entry]);
      } else prefixes.push(entry);
    }
  });
  const unknownAdds: CommandLike[] = [];
  let earlyAdds = 0;
  let adds = 0;
  let dels = 0;
  for (const cmd of commands) {
    if (cmd.method === "del") dels++;
    if (cmd.method !== "add") continue;
    adds++;
    const net = parseNet(cmd.ip_addr);
    const hits = net === undefined
      ? []
      : isSingle(net)
      ? [...(single.get(keyOf(net)) ?? []), ...prefixes.filter((p) => overlaps(p.net, net))]
      : all.filter((e) => overlaps(e.net, net));
    if (hits.length === 0) {
      unknownAdds.push(cmd);
      continue;
    }
    for (const hit of hits) {
      // Log times are whole seconds; a decision in the first second has the same stamp.
      if (cmd.timestamp < hit.source.first) {
        earlyAdds++;
        continue;
      }
      if (hit.ban === undefined || cmd.timestamp < hit.ban.command.timestamp) {
        hit.ban = {
          source: hit.source.source,
          first: hit.source.first,
          timeToBan: cmd.timestamp - hit.source.first,
          command: cmd,
        };
      }
    }
  }
  const classes = truth.classes.map((c: ClassTruth, cls): ClassScore => {
    const bans = all.filter((e) => e.cls === cls && e.ban !== undefined).map((e) => e.ban!);
    bans.sort((a, b) => a.timeToBan - b.timeToBan);
    const timeToBan = bans.map((b) => b.timeToBan);
    const attack = c.kind === "attack";
    const sources = c.sources.length;
    const withinTarget = attack && c.target !== undefined
      ? timeToBan.filter((t) => t <= c.target!.seconds).length
      : 0;
    const med = median(timeToBan);
    return {
      name: c.name,
      kind: c.kind,
      description: c.description,
      ...(c.target !== undefined ? { target: c.target } : {}),
      sources,
      banned: bans.length,
      missed: attack ? sources - bans.length : 0,
      falseBans: attack ? 0 : bans.length,
      withinTarget,
      timeToBan,
      ...(med !== undefined ? { median: med, max: timeToBan[timeToBan.length - 1]! } : {}),
      targetHolds: attack
        ? sources > 0 && withinTarget >= Math.ceil((c.target?.share ?? 1) * sources - 1e-9)
        : bans.length === 0,
      bans,
    };
  });
  return {
    classes,
    falseBans: classes.reduce((n, c) => n + c.falseBans, 0),
    unknownAdds,
    earlyAdds,
    adds,
    dels,
  };
}

/** The commands in `qts replay --log` stdout: one JSON object per line; other lines skipped. */
export function parseCommands(stdout: string): CommandLike[] {
  const out: CommandLike[] = [];
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const value = JSON.parse(line) as Partial<CommandLike>;
      if (
        typeof value.method === "string" && typeof value.ip_addr === "string" &&
        typeof value.timestamp === "number"
      ) {
        out.push({
          method: value.method,
          ip_addr: value.ip_addr,
          timestamp: value.timestamp,
          rule_name: String(value.rule_name ?? ""),
          comment: String(value.comment ?? ""),
          ...(typeof value.domain_id === "number" ? { domain_id: value.domain_id } : {}),
        });
      }
    } catch {
      // Not a command: the sensor prints nothing else on stdout, but a stray line is no reason
      // to lose the run.
    }
  }
  return out;
}
