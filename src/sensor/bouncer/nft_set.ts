import { parseIPv4, parseIPv6Hex } from "../../shared/net/ip.ts";

/** Where bans go: `family/table/set`; IPv6 addresses go to the set named `<set>6`. */
export interface NftTarget {
  family: "inet" | "ip" | "ip6" | "bridge" | "netdev";
  table: string;
  set: string;
}

/** One change to the sets. */
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
  if (!ip.includes("%") && parseIPv6Hex(ip) !== undefined) return 6;
  return undefined;
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

/** An element value of `nft -j` as text: an address, or `{prefix: {addr, len}}` as `addr/len`. */
function elementText(val: unknown): string {
  if (typeof val === "string") return val;
  const prefix = (val as { prefix?: { addr?: unknown; len?: unknown } } | null)?.prefix;
  return prefix ? `${prefix.addr}/${prefix.len}` : String(val);
}

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
    } catch { /* missing: create it below */ }
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

  #line(op: NftOp, refresh = false): string | undefined {
    const set = this.#set(op.ip);
    if (!set) return undefined;
    if (op.op === "add") {
      const seconds = Math.max(1, Math.ceil(op.timeout));
      const add = `add element ${set} { ${op.ip} timeout ${seconds}s }`;
      // Older kernels keep an existing element's timeout on `add` (newer ones refresh it);
      // add-delete-add in one transaction gives the new timeout on either, whether or not the
      // element was there (nft 1.0.6 has no `destroy`; a lone `delete` of a missing element
      // fails the whole batch).
      return refresh ? `${add}\ndelete element ${set} { ${op.ip} }\n${add}` : add;
    }
    return `delete element ${set} { ${op.ip} }`;
  }

  /**
   * Applies changes in one transaction. When the batch fails (a `del` of an element that has
   * already expired fails the whole transaction), applies them one by one and ignores deletes
   * of missing elements. Returns the number of changes nft rejected.
   */
  async apply(ops: readonly NftOp[]): Promise<number> {
    const lines = ops.map((op) => this.#line(op, true));
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
            /No such file or directory/.test((error as NftError).stderr ?? "");
          if (!missing) rejected++;
        }
      }
    }
    for (const op of ops) op.op === "add" ? this.stats.added++ : this.stats.deleted++;
    return rejected;
  }

  /**
   * Replaces the sets' contents with `bans` in one transaction (flush + add), so there is no
   * moment without the bans that should hold.
   */
  async replace(bans: readonly { ip: string; timeout: number }[]): Promise<void> {
    const { family, table, set } = this.target;
    const lines = SUFFIXES.map((suffix) => `flush set ${family} ${table} ${set}${suffix}`);
    for (const ban of bans) {
      const line = this.#line({ op: "add", ...ban });
      if (line) lines.push(line);
    }
    await this.run(lines.join("\n") + "\n");
  }

  /** Current members of both sets with their remaining seconds (`nft -j list set`). */
  async members(): Promise<Map<string, number | undefined>> {
    const out = new Map<string, number | undefined>();
    const { family, table, set } = this.target;
    for (const name of SUFFIXES.map((suffix) => set + suffix)) {
      const text = await this.run("", ["-j", "list", "set", family, table, name]);
      const doc = JSON.parse(text) as { nftables: Record<string, unknown>[] };
      for (const item of doc.nftables) {
        const s = item.set as { elem?: unknown[] } | undefined;
        for (const e of s?.elem ?? []) {
          if (typeof e === "string" || (e as { prefix?: unknown }).prefix) {
            out.set(elementText(e), undefined);
          } else {
            const elem = (e as { elem?: { val: unknown; expires?: number } }).elem;
            if (elem) out.set(elementText(elem.val), elem.expires);
          }
        }
      }
    }
    return out;
  }
}
