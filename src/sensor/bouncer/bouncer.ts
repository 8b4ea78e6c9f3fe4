import { SubSocket } from "../zmtp/mod.ts";
import { ipFamily, type NftOp, type NftSet } from "./nft_set.ts";

/** Options of {@linkcode Bouncer}. */
export interface BouncerOptions {
  /** The sensor's outbound PUB endpoint, e.g. `tcp://127.0.0.1:4101`. */
  from: string;
  /** The sensor's API base URL for resync (`GET /bans`), e.g. `http://127.0.0.1:4180`; "" = none. */
  api: string;
  /** Bearer token for the API. */
  token?: string | undefined;
  /** Apply only commands of these rule names; empty = all. */
  rules?: readonly string[] | undefined;
  /** Gather commands this long (ms) into one nft transaction. Default 50. */
  batchMs?: number | undefined;
  /** How often (ms) to look for a reconnect of the SUB socket. Default 500. */
  pollMs?: number | undefined;
  /** Structured log sink. */
  log?:
    | ((level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void)
    | undefined;
  /** Wall clock in ms (tests). Default Date.now. */
  now?: (() => number) | undefined;
}

/** What the bouncer has done, for logs and tests. */
export interface BouncerStats {
  commands: number;
  ignored: number;
  invalid: number;
  batches: number;
  rejected: number;
  resyncs: number;
  resyncFailures: number;
}

interface Command {
  method: string;
  ip_addr: string;
  rule_name: string;
  timeout?: number;
}

const decoder = new TextDecoder();

/**
 * Applies the sensor's commands to nftables: subscribes to the outbound PUB, turns `add` into an
 * element with the command's timeout and `del` into a delete, in batches (one nft transaction
 * each). After every (re)connect it resyncs from `GET /bans`, because PUB drops what is sent
 * while no subscriber is connected: the sets are replaced by the active bans with their
 * remaining lifetimes.
 */
export class Bouncer {
  readonly stats: BouncerStats = {
    commands: 0,
    ignored: 0,
    invalid: 0,
    batches: 0,
    rejected: 0,
    resyncs: 0,
    resyncFailures: 0,
  };
  readonly #o: BouncerOptions;
  readonly #nft: NftSet;
  readonly #sub = new SubSocket({ reconnectMax: 2000 });
  #queue: NftOp[] = [];
  #resyncWanted = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #poll: ReturnType<typeof setInterval> | undefined;
  #handshakes = 0;
  /** Serialises nft runs: batches and resyncs never interleave. */
  #chain: Promise<void> = Promise.resolve();
  #loop: Promise<void> | undefined;
  #closed = false;
  /** Called after each batch or resync is applied (tests await it). */
  onApplied?: (what: "batch" | "resync", ops: number) => void;

  constructor(nft: NftSet, options: BouncerOptions) {
    this.#nft = nft;
    this.#o = options;
  }

  #log(level: "info" | "warn" | "error", msg: string, fields: Record<string, unknown> = {}) {
    this.#o.log?.(level, msg, fields);
  }

  /** Creates the sets, connects, and starts applying commands. */
  async start(): Promise<void> {
    await this.#nft.setup();
    this.#sub.subscribe("");
    this.#sub.connect(this.#o.from);
    this.#loop = this.#receive();
    // The socket reconnects by itself; a new handshake means commands may have been missed.
    this.#poll = setInterval(() => this.#checkReconnect(), this.#o.pollMs ?? 500);
    this.#checkReconnect();
  }

  #checkReconnect(): void {
    const handshakes = this.#sub.stats.handshakes;
    if (handshakes === this.#handshakes) return;
    this.#handshakes = handshakes;
    if (handshakes > 0) this.resync();
  }

  async #receive(): Promise<void> {
    for await (const frames of this.#sub) {
      const text = decoder.decode(frames[frames.length - 1]);
      let cmd: Command;
      try {
        cmd = JSON.parse(text) as Command;
      } catch {
        this.stats.invalid++;
        this.#log("warn", "command is not JSON", { text: text.slice(0, 200) });
        continue;
      }
      this.handle(cmd);
    }
  }

  /** Queues one parsed command (exposed for tests and for other transports). */
  handle(cmd: Command): void {
    if (
      typeof cmd !== "object" || cmd === null || typeof cmd.ip_addr !== "string" ||
      ipFamily(cmd.ip_addr) === undefined || (cmd.method !== "add" && cmd.method !== "del")
    ) {
      this.stats.invalid++;
      this.#log("warn", "command ignored: not an add/del with an IP address", {
        command: JSON.stringify(cmd).slice(0, 200),
      });
      return;
    }
    const rules = this.#o.rules ?? [];
    if (rules.length > 0 && !rules.includes(cmd.rule_name)) {
      this.stats.ignored++;
      return;
    }
    this.stats.commands++;
    if (cmd.method === "add") {
      const timeout = typeof cmd.timeout === "number" && cmd.timeout > 0 ? cmd.timeout : 3600;
      this.#queue.push({ op: "add", ip: cmd.ip_addr, timeout });
    } else this.#queue.push({ op: "del", ip: cmd.ip_addr });
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#enqueue(() => this.#flush());
    }, this.#o.batchMs ?? 50);
  }

  #enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(work).catch((error) => {
      this.#log("error", "nft change failed", { error: (error as Error).message });
    });
    this.#chain = next;
    return next;
  }

  async #flush(): Promise<void> {
    const ops = this.#queue;
    this.#queue = [];
    if (ops.length === 0) return;
    const rejected = await this.#nft.apply(ops);
    this.stats.batches++;
    this.stats.rejected += rejected;
    if (rejected > 0) this.#log("warn", "nft rejected changes", { rejected, of: ops.length });
    this.onApplied?.("batch", ops.length);
  }

  /**
   * Replaces the sets' contents with the sensor's active bans (`GET /bans`), keeping the order
   * with commands received before it. Runs once however often it is asked while one waits.
   */
  resync(): Promise<void> {
    if (!this.#o.api || this.#resyncWanted) return this.#chain;
    this.#resyncWanted = true;
    return this.#enqueue(async () => {
      this.#resyncWanted = false;
      // Commands queued before this point are part of what /bans reflects, or older.
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = undefined;
      await this.#flush();
      try {
        const bans = await this.#fetchBans();
        await this.#nft.replace(bans);
        this.stats.resyncs++;
        this.#log("info", "resynced from the sensor", { bans: bans.length });
        this.onApplied?.("resync", bans.length);
      } catch (error) {
        this.stats.resyncFailures++;
        this.#log("warn", "resync failed; applying commands as they come", {
          error: (error as Error).message,
        });
      }
    });
  }

  async #fetchBans(): Promise<{ ip: string; timeout: number }[]> {
    const headers: Record<string, string> = {};
    if (this.#o.token) headers.authorization = `Bearer ${this.#o.token}`;
    const response = await fetch(`${this.#o.api.replace(/\/$/, "")}/bans`, {
      headers,
      signal: AbortSignal.timeout(10_000),
    });
    const body = await response.json() as {
      status?: string;
      data?: { ip?: string; rule_name?: string; expires_at?: number }[];
    };
    if (!response.ok || body.status !== "success" || !Array.isArray(body.data)) {
      throw new Error(`GET /bans answered ${response.status}`);
    }
    const now = (this.#o.now ?? Date.now)();
    const rules = this.#o.rules ?? [];
    const bans = new Map<string, number>();
    for (const ban of body.data) {
      if (typeof ban.ip !== "string" || ipFamily(ban.ip) === undefined) continue;
      if (rules.length > 0 && !rules.includes(String(ban.rule_name))) continue;
      const left = typeof ban.expires_at === "number" ? (ban.expires_at - now) / 1000 : 0;
      if (left <= 0) continue;
      // One element per IP: the longest of its bans.
      bans.set(ban.ip, Math.max(bans.get(ban.ip) ?? 0, left));
    }
    return [...bans].map(([ip, timeout]) => ({ ip, timeout }));
  }

  /** Stops receiving, applies what is queued, and closes the socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#poll) clearInterval(this.#poll);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#sub.close();
    await this.#loop;
    await this.#enqueue(() => this.#flush());
  }
}
