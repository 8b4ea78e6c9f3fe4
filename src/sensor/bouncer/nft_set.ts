import { parseIPv4, parseIPv6Hex } from "../../shared/net/ip.ts";

/** Where bans go: `family/table/set`; IPv6 addresses go to the set named `<set>6`. */
export interface NftTarget {
  family: "inet" | "ip" | "ip6" | "bridge" | "netdev";
  table: string;
  set: string;
}

/**
 * One change to the sets: `add` makes the element present with exactly `timeout` seconds left
 * (created, extended or shortened), `del` removes it.
 */
export type NftOp =
  | { op: "add"; ip: string; timeout: number }
  | { op: "del"; ip: string };

/** Options of {@linkcode NftSet}. */
export interface NftSetOptions {
  /** The command that runs nft, e.g. `["ip", "netns", "exec", "ns1", "nft"]`. Default `["nft"]`. */
  command?: string[];
  /** Also create a filter chain `qts_input` that drops traffic from both sets. Default true. */
  chain?: boolean;
}

const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,30}$/;
const FAMILIES = ["inet", "ip", "ip6", "bridge", "netdev"];

/** Parses `inet/qts/bans` into a target. Throws TypeError naming the bad part. */
export function parseNftTarget(text: string): NftTarget {
  const parts = text.split("/");
  if (parts.length !== 3) {
    throw new TypeError(`--nft "${text}" is not family/table/set (e.g. inet/qts/bans)`);
  }
  const [family, table, set] = parts as [string, string, string];
  if (!FAMILIES.includes(family)) {
    throw new TypeError(`--nft "${text}": family "${family}" is not one of ${FAMILIES.join(", ")}`);
  }
  for (const [what, name] of [["table", table], ["set", set]]) {
    if (!NAME.test(name!)) {
      throw new TypeError(
        `--nft "${text}": ${what} "${name}" is not a name of letters, digits, _ -`,
      );
    }
  }
  return { family: family as NftTarget["family"], table, set };
}

/**
 * `4`, `6`, or undefined when `ip` is neither an address nor a network `addr/len` (the sensor
 * bans an IPv6 client's /64): nothing else is ever passed to nft.
 */
export function ipFamily(ip: string): 4 | 6 | undefined {
  const slash = ip.indexOf("/");
  if (slash >= 0) {
    const len = ip.slice(slash + 1);
    const family = ipFamily(ip.slice(0, slash));
    if (family === undefined || !/^\d{1,3}$/.test(len)) return undefined;
    return Number(len) <= (family === 4 ? 32 : 128) ? family : undefined;
  }
  if (parseIPv4(ip) !== undefined) return 4;
  if (!/[%[\]]/.test(ip) && parseIPv6Hex(ip) !== undefined) return 6;
  return undefined;
}

/**
 * The identity of an nft element, or undefined when `ip` is not an address or network:
 * `2001:DB8::1` and `2001:db8::1` are one element, and a network is its masked prefix (nft
 * stores `2001:db8:a:c::1/64` as `2001:db8:a:c::/64`). Commands, `GET /bans` and what
 * {@linkcode NftSet.members} lists are compared on it.
 *
 * @example
 * ```ts
 * elementKey("192.0.2.1"); // "4:c0000201"
 * elementKey("2001:db8:a:b::1/64") === elementKey("2001:DB8:A:B::/64"); // true
 * ```
 */
export function elementKey(ip: string): string | undefined {
  const family = ipFamily(ip);
  if (family === undefined) return undefined;
  const slash = ip.indexOf("/");
  const addr = slash >= 0 ? ip.slice(0, slash) : ip;
  const hex = family === 4 ? parseIPv4(addr)!.toString(16).padStart(8, "0") : parseIPv6Hex(addr)!;
  if (slash < 0) return `${family}:${hex}`;
  const len = Number(ip.slice(slash + 1));
  const width = hex.length * 4;
  const bits = BigInt(`0x${hex}`);
  const mask = ((1n << BigInt(len)) - 1n) << BigInt(width - len);
  return `${family}:${(bits & mask).toString(16).padStart(hex.length, "0")}/${len}`;
}

/** nft's error when it cannot run, with what it printed. */
export class NftError extends Error {
  constructor(message: string, readonly stderr: string) {
    super(message);
    this.name = "NftError";
  }
}

// The bouncer's four sets: addresses and networks, IPv4 and IPv6.
const SUFFIXES = ["", "6", "net", "6net"] as const;

/**
 * An element value of `nft -j` as text: an address, or `{prefix: {addr, len}}` as `addr/len`.
 * An interval set lists a full-length prefix (`192.0.2.1/32`) as a bare address: `net` adds
 * the length back, so the text names the element that was written.
 */
function elementText(val: unknown, net: boolean): string {
  if (typeof val === "string") {
    if (!net || val.includes("/")) return val;
    return `${val}/${val.includes(":") ? 128 : 32}`;
  }
  const prefix = (val as { prefix?: { addr?: unknown; len?: unknown } } | null)?.prefix;
  return prefix ? `${prefix.addr}/${prefix.len}` : String(val);
}

// What nft prints when a `delete element` names an element that is not there: the address
// sets say ENOENT, the interval sets say so in words.
const MISSING = /No such file or directory|element does not exist/;

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * The nftables sets of a bouncer: `<set>` and `<set>6` for addresses (`flags timeout`), and
 * `<set>net` and `<set>6net` for networks (`flags interval, timeout`: an IPv6 client banned as
 * its /64). Addresses and networks live apart, so an address inside a banned network never
 * makes an overlapping interval. Changed through nft scripts (`nft -f -`): each batch is one
 * kernel transaction.
 * Addresses are validated before they reach a script, so a command cannot inject nft syntax.
 */
export class NftSet {
  readonly target: NftTarget;
  readonly #command: string[];
  readonly #chain: boolean;
  /** nft runs and the elements they carried, for metrics and tests. */
  readonly stats = { runs: 0, failures: 0, added: 0, deleted: 0 };

  constructor(target: NftTarget, options: NftSetOptions = {}) {
    this.target = target;
    this.#command = options.command ?? ["nft"];
    this.#chain = options.chain ?? true;
  }

  #set(ip: string): string | undefined {
    const v = ipFamily(ip);
    if (v === undefined) return undefined;
    const { family, table, set } = this.target;
    const net = ip.includes("/") ? "net" : "";
    return `${family} ${table} ${v === 4 ? set : `${set}6`}${net}`;
  }

  /** Runs an nft script; resolves stdout, rejects with NftError. */
  async run(script: string, args: string[] = ["-f", "-"]): Promise<string> {
    const [bin, ...pre] = this.#command as [string, ...string[]];
    const child = new Deno.Command(bin, {
      args: [...pre, ...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(encoder.encode(script));
    await writer.close();
    const out = await child.output();
    this.stats.runs++;
    if (!out.success) {
      this.stats.failures++;
      const stderr = decoder.decode(out.stderr).trim();
      throw new NftError(`nft failed (exit ${out.code}): ${stderr.split("\n")[0]}`, stderr);
    }
    return decoder.decode(out.stdout);
  }

  /** Creates table, sets (and the drop chain) when missing; existing ones are kept. */
  async setup(): Promise<void> {
    const { family, table, set } = this.target;
    const lines = [
      `add table ${family} ${table}`,
      `add set ${family} ${table} ${set} { type ipv4_addr; flags timeout; }`,
      `add set ${family} ${table} ${set}6 { type ipv6_addr; flags timeout; }`,
      `add set ${family} ${table} ${set}net { type ipv4_addr; flags interval, timeout; }`,
      `add set ${family} ${table} ${set}6net { type ipv6_addr; flags interval, timeout; }`,
    ];
    await this.run(lines.join("\n") + "\n");
    if (!this.#chain || (family !== "inet" && family !== "ip" && family !== "ip6")) return;
    // Rules are not idempotent: create the chain with its rules only when it is not there yet.
    try {
      await this.run("", ["list", "chain", family, table, "qts_input"]);
      return;
    } catch (error) {
      // Missing: create it below. nft saying so is expected, not a failure to count.
      if (error instanceof NftError) this.stats.failures--;
    }
    const rules = [
      `add chain ${family} ${table} qts_input { type filter hook input priority -10; policy accept; }`,
    ];
    if (family !== "ip6") {
      rules.push(`add rule ${family} ${table} qts_input ip saddr @${set} drop`);
      rules.push(`add rule ${family} ${table} qts_input ip saddr @${set}net drop`);
    }
    if (family !== "ip") {
      rules.push(`add rule ${family} ${table} qts_input ip6 saddr @${set}6 drop`);
      rules.push(`add rule ${family} ${table} qts_input ip6 saddr @${set}6net drop`);
    }
    await this.run(rules.join("\n") + "\n");
  }

  #line(op: NftOp): string | undefined {
    const set = this.#set(op.ip);
    if (!set) return undefined;
    if (op.op === "add") {
      const seconds = Math.max(1, Math.ceil(op.timeout));
      const add = `add element ${set} { ${op.ip} timeout ${seconds}s }`;
      // Older kernels keep an existing element's timeout on `add` (newer ones refresh it), and
      // none shortens it: add-delete-add in one transaction gives exactly the new timeout,
      // longer or shorter, whether or not the element was there (nft 1.0.6 has no `destroy`;
      // a lone `delete` of a missing element fails the whole batch).
      return `${add}\ndelete element ${set} { ${op.ip} }\n${add}`;
    }
    return `delete element ${set} { ${op.ip} }`;
  }

  /**
   * Applies changes in one transaction. When the batch fails (a `del` of an element that has
   * already expired fails the whole transaction), applies them one by one and ignores deletes
   * of missing elements. Returns the number of changes nft rejected.
   */
  async apply(ops: readonly NftOp[]): Promise<number> {
    const lines = ops.map((op) => this.#line(op));
    const valid = lines.filter((l): l is string => l !== undefined);
    let rejected = lines.length - valid.length;
    if (valid.length === 0) return rejected;
    try {
      await this.run(valid.join("\n") + "\n");
    } catch {
      for (const line of valid) {
        try {
          await this.run(line + "\n");
        } catch (error) {
          const missing = line.startsWith("delete") &&
            MISSING.test((error as NftError).stderr ?? "");
          if (!missing) rejected++;
        }
      }
    }
    for (const op of ops) op.op === "add" ? this.stats.added++ : this.stats.deleted++;
    return rejected;
  }

  /**
   * Current members of the four sets with their remaining seconds (`nft -j list set`; whole
   * seconds, rounded down; undefined for an element without a timeout).
   */
  async members(): Promise<Map<string, number | undefined>> {
    const out = new Map<string, number | undefined>();
    const { family, table, set } = this.target;
    for (const suffix of SUFFIXES) {
      const name = set + suffix;
      const net = suffix.endsWith("net");
      const text = await this.run("", ["-j", "list", "set", family, table, name]);
      const doc = JSON.parse(text) as { nftables: Record<string, unknown>[] };
      for (const item of doc.nftables) {
        const s = item.set as { elem?: unknown[] } | undefined;
        for (const e of s?.elem ?? []) {
          if (typeof e === "string" || (e as { prefix?: unknown }).prefix) {
            out.set(elementText(e, net), undefined);
          } else {
            const elem = (e as { elem?: { val: unknown; expires?: number } }).elem;
            if (elem) out.set(elementText(elem.val, net), elem.expires);
          }
        }
      }
    }
    return out;
  }
}
