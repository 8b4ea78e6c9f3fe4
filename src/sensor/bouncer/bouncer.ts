import { Metrics } from "../../shared/metrics/metrics.ts";
import { curvePublicKey, SubSocket } from "../zmtp/mod.ts";
import { BanState, type BouncerBan } from "./ban_state.ts";
import { elementKey, type NftOp, type NftSet } from "./nft_set.ts";
import { fetchBans } from "./fetch_bans.ts";
import { readBanCommand } from "./read_ban_command.ts";

/** What the bouncer needs of its sets; {@linkcode NftSet} in production. */
export type BouncerNft = Pick<NftSet, "setup" | "apply" | "members" | "stats">;

/** Options of {@linkcode Bouncer}. */
export interface BouncerOptions {
  /** The sensor's outbound PUB endpoint, e.g. `tcp://127.0.0.1:4101`. */
  from: string;
  /** The sensor's API base URL for resync (`GET /bans`), e.g. `http://127.0.0.1:4180`; "" = none. */
  api: string;
  /** Bearer token for the API. */
  token?: string | undefined;
  /**
   * CURVE client keys, for a sensor whose outbound PUB has `[tsng:qpc] curve_secret_key_file`:
   * our secret key (its public key, derived, must be in the sensor's
   * `curve_authorized_keys_file`) and the sensor's outbound public key, both Z85. Without it
   * the SUB speaks NULL, which such a sensor refuses.
   */
  curve?: BouncerCurve | undefined;
  /** Apply only commands of these rule names; empty = all. */
  rules?: readonly string[] | undefined;
  /** Gather commands this long (ms) into one nft transaction. Default 50. */
  batchMs?: number | undefined;
  /** How often (ms) to look for a reconnect of the SUB socket. Default 500. */
  pollMs?: number | undefined;
  /**
   * Resync this long (ms) after the last successful one, to repair commands lost on the way
   * (PUB drops at its high-water mark). Default 60 000; 0 = only at start and after reconnects.
   */
  resyncMs?: number | undefined;
  /** First retry (ms) after a failed resync; doubles per failure up to `retryMaxMs`. Default 1000. */
  retryMs?: number | undefined;
  /** Longest wait (ms) between retries of a failing resync. Default 30 000. */
  retryMaxMs?: number | undefined;
  /** Where the bouncer's counters go (`qts bouncer --metrics`); default a registry of its own. */
  metrics?: Metrics | undefined;
  /** Structured log sink. */
  log?:
    | ((level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void)
    | undefined;
  /** Wall clock in ms (tests). Default Date.now. */
  now?: (() => number) | undefined;
}

/** The bouncer's CURVE client keys (Z85, 40 characters each). */
export interface BouncerCurve {
  /** The bouncer's own secret key; the public key is derived from it. */
  secretKey: string;
  /** The sensor's outbound public key. */
  serverKey: string;
}

/** What the bouncer has done, for logs, metrics and tests. */
export interface BouncerStats {
  /** Valid add/del commands applied, ignored (other rule_name), or not understood. */
  commands: number;
  ignored: number;
  invalid: number;
  /** nft transactions of streamed commands, and element changes nft rejected. */
  batches: number;
  rejected: number;
  /** Resyncs that completed, and attempts that failed (the API or nft). */
  resyncs: number;
  resyncFailures: number;
  /** Corrections resyncs made: elements added, removed, or given another timeout. */
  resyncAdded: number;
  resyncRemoved: number;
  resyncRetimed: number;
}

/** A command as it waits for its batch. */
interface Queued {
  method: "add" | "del";
  domainId: number;
  ruleName: string;
  ip: string;
  /** When it was received (ms) and its lifetime (s); add only. */
  at: number;
  timeout: number;
}

// nft lists whole seconds rounded down and the bouncer writes them rounded up: an element within
// this many seconds of its wanted lifetime is right.
const SLACK_S = 2;

const decoder = new TextDecoder();

/**
 * Applies the sensor's commands to nftables. Subscribes to the outbound PUB and keeps one ban
 * per (domain_id, rule_name, IP) with its expiry ({@linkcode BanState}); the IP's nft element
 * is present while any of its bans is active and expires with the latest one, so a `del` of
 * one rule or a shorter ban of another never unblocks an IP another rule still bans. Commands
 * are gathered into batches (one nft transaction each).
 *
 * Resync replaces the bans with the sensor's `GET /bans` and corrects the sets to match
 * (added, removed, retimed elements are counted): at start, after every reconnect (PUB drops
 * what is sent while no subscriber is connected), every `resyncMs` (PUB drops at its
 * high-water mark), and again with backoff after a failure until the API answers.
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
    resyncAdded: 0,
    resyncRemoved: 0,
    resyncRetimed: 0,
  };
  /** The bouncer's counters (`qts_bouncer_*`), rendered by `qts bouncer --metrics`. */
  readonly metrics: Metrics;
  readonly #o: BouncerOptions;
  readonly #nft: BouncerNft;
  readonly #now: () => number;
  readonly #state = new BanState();
  readonly #sub: SubSocket;
  #queue: Queued[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #poll: ReturnType<typeof setInterval> | undefined;
  #handshakes = 0;
  /** Refused handshakes (mechanism, CURVE key) counted so far, and whether that was logged. */
  #refused = 0;
  #refusedLogged = false;
  /** Serialises nft runs: batches and resyncs never interleave. */
  #chain: Promise<unknown> = Promise.resolve();
  #loop: Promise<void> | undefined;
  #closed = false;
  /** A resync queued and not started yet: later requests join it. */
  #pendingResync: Promise<boolean> | undefined;
  #resyncTimer: ReturnType<typeof setTimeout> | undefined;
  /** Failed resyncs in a row (the backoff's exponent). */
  #failuresInRow = 0;
  /** Handshake count when the last successful resync asked the API; -1 before one. */
  #syncedHandshakes = -1;
  #lastResync = 0;
  #pruned = 0;
  /** Called after each batch or resync is applied (tests await it). */
  onApplied?: (what: "batch" | "resync", ops: number) => void;

  /** Throws TypeError when `options.curve` holds something other than Z85 CURVE keys. */
  constructor(nft: BouncerNft, options: BouncerOptions) {
    const curve = options.curve;
    this.#sub = new SubSocket({
      reconnectMax: 2000,
      ...(curve
        ? {
          curve: {
            secretKey: curve.secretKey,
            publicKey: curvePublicKey(curve.secretKey),
            serverKey: curve.serverKey,
          },
        }
        : {}),
    });
    this.#nft = nft;
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.metrics = options.metrics ?? new Metrics();
    this.metrics.collect(() => this.#collect());
  }

  #log(level: "info" | "warn" | "error", msg: string, fields: Record<string, unknown> = {}) {
    this.#o.log?.(level, msg, fields);
  }

  /**
   * True when the last resync succeeded and the SUB socket has not reconnected since it asked
   * the API: the sets hold the sensor's bans plus every command received after them.
   */
  get synced(): boolean {
    return this.#syncedHandshakes === this.#sub.stats.handshakes;
  }

  /** The bans held now, one per (domain, rule, IP). */
  bans(): BouncerBan[] {
    return this.#state.list(this.#now());
  }

  /** Creates the sets, connects, resyncs, and starts applying commands. */
  async start(): Promise<void> {
    await this.#nft.setup();
    this.#sub.subscribe("");
    this.#sub.connect(this.#o.from);
    this.#loop = this.#receive();
    // The socket reconnects by itself; a new handshake means commands may have been missed.
    this.#poll = setInterval(() => this.#checkReconnect(), this.#o.pollMs ?? 500);
    // Sets left from a previous run are corrected as soon as the API answers, sensor socket or not.
    void this.resync();
  }

  #checkReconnect(): void {
    const { handshakes, disconnected: d } = this.#sub.stats;
    // The sensor refusing us (NULL against CURVE, or a key it does not know) ends every
    // attempt the same way; say why once per run of refusals, not every reconnect.
    const refused = d.bad_mechanism + d.auth_failed + d.peer_error;
    if (refused !== this.#refused) {
      this.#refused = refused;
      if (!this.#refusedLogged) {
        this.#refusedLogged = true;
        this.#log("error", "the sensor's PUB refused the handshake; retrying", {
          from: this.#o.from,
          curve: this.#o.curve !== undefined,
          hint: this.#o.curve
            ? "check --curve-server-key and that our public key is in the sensor's " +
              "[tsng:qpc] curve_authorized_keys_file"
            : "the sensor may use CURVE: give --curve-secret-key-file and --curve-server-key",
          bad_mechanism: d.bad_mechanism,
          auth_failed: d.auth_failed,
          peer_error: d.peer_error,
        });
      }
    }
    if (handshakes === this.#handshakes) return;
    this.#handshakes = handshakes;
    this.#refusedLogged = false;
    void this.resync();
  }

  async #receive(): Promise<void> {
    for await (const frames of this.#sub) {
      const text = decoder.decode(frames[frames.length - 1]);
      let cmd: unknown;
      try {
        cmd = JSON.parse(text);
      } catch {
        this.stats.invalid++;
        this.#log("warn", "command is not JSON", { text: text.slice(0, 200) });
        continue;
      }
      this.handle(cmd);
    }
  }

  /**
   * Queues one parsed command (exposed for tests and for other transports): an object with
   * `method` "add" or "del", `ip_addr`, `rule_name`, `domain_id`, and `timeout` (s) on add.
   */
  handle(cmd: unknown): void {
    const order = readBanCommand(cmd);
    if (order === undefined) {
      this.stats.invalid++;
      this.#log("warn", "command ignored: not an add/del with an IP address", {
        command: JSON.stringify(cmd)?.slice(0, 200),
      });
      return;
    }
    const rules = this.#o.rules ?? [];
    if (rules.length > 0 && !rules.includes(order.ruleName)) {
      this.stats.ignored++;
      return;
    }
    this.stats.commands++;
    this.#queue.push({ ...order, at: this.#now() });
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#enqueue(() => this.#flush());
    }, this.#o.batchMs ?? 50);
  }

  #enqueue<T>(work: () => Promise<T>): Promise<T | undefined> {
    const next = this.#chain.then(work).catch((error) => {
      this.#log("error", "nft change failed", { error: (error as Error).message });
      return undefined;
    });
    this.#chain = next;
    return next;
  }

  /** Applies the commands received so far without waiting for their batch (tests, shutdown). */
  async flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#enqueue(() => this.#flush());
  }

  /** What `element` should be now, as the one op that makes it so. */
  #op(element: string, ip: string, now: number): NftOp {
    const wanted = this.#state.element(element, now);
    return wanted
      ? { op: "add", ip: wanted.ip, timeout: (wanted.expiresAt - now) / 1000 }
      : { op: "del", ip };
  }

  /** Applies the queued commands to the bans, then writes each touched element as it should be. */
  async #flush(): Promise<void> {
    const queued = this.#queue;
    this.#queue = [];
    if (queued.length === 0) return;
    const touched = new Map<string, string>();
    for (const q of queued) {
      const element = q.method === "add"
        ? this.#state.set({
          domainId: q.domainId,
          ruleName: q.ruleName,
          ip: q.ip,
          expiresAt: q.at + q.timeout * 1000,
        })
        : this.#state.delete(q.domainId, q.ruleName, q.ip);
      if (element !== undefined) touched.set(element, q.ip);
    }
    const now = this.#now();
    const ops = [...touched].map(([element, ip]) => this.#op(element, ip, now));
    // Expired bans go when their element is touched or at a resync; without resyncs (--api "")
    // they would pile up, so drop them all now and then.
    if (now - this.#pruned > 60_000) {
      this.#state.prune(now);
      this.#pruned = now;
    }
    const rejected = await this.#nft.apply(ops);
    this.stats.batches++;
    this.stats.rejected += rejected;
    if (rejected > 0) this.#log("warn", "nft rejected changes", { rejected, of: ops.length });
    this.onApplied?.("batch", ops.length);
  }

  #scheduleResync(delayMs: number): void {
    if (this.#closed || !this.#o.api) return;
    if (this.#resyncTimer !== undefined) clearTimeout(this.#resyncTimer);
    this.#resyncTimer = setTimeout(() => {
      this.#resyncTimer = undefined;
      void this.resync();
    }, Math.min(delayMs, 2 ** 31 - 1)); // longer fires at once
  }

  /**
   * Replaces the bans with the sensor's active ones (`GET /bans`) and corrects the sets to
   * match, in order with commands received before it. Runs once however often it is asked
   * while one waits. Resolves true when it succeeded; a failure is retried with backoff.
   */
  resync(): Promise<boolean> {
    if (!this.#o.api || this.#closed) return Promise.resolve(false);
    if (this.#pendingResync) return this.#pendingResync;
    if (this.#resyncTimer !== undefined) clearTimeout(this.#resyncTimer);
    this.#resyncTimer = undefined;
    const run = this.#enqueue(async () => {
      this.#pendingResync = undefined;
      return await this.#resyncNow();
    }).then((ok) => ok === true);
    this.#pendingResync = run;
    return run;
  }

  async #resyncNow(): Promise<boolean> {
    if (this.#closed) return false;
    // Commands queued before this point are part of what /bans reflects, or older; commands
    // received while it is asked wait and apply after it (an add or del again is harmless).
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const handshakes = this.#sub.stats.handshakes;
    try {
      await this.#flush();
      const bans = await this.#fetchBans();
      const have = new Map<string, { ip: string; left: number | undefined }>();
      for (const [ip, left] of await this.#nft.members()) {
        const element = elementKey(ip);
        if (element !== undefined) have.set(element, { ip, left });
      }
      const now = this.#now();
      this.#state.replace(bans);
      const ops: NftOp[] = [];
      let added = 0;
      let retimed = 0;
      let removed = 0;
      for (const [element, wanted] of this.#state.wanted(now)) {
        const timeout = (wanted.expiresAt - now) / 1000;
        const current = have.get(element);
        have.delete(element);
        if (current === undefined) added++;
        else if (current.left === undefined || Math.abs(current.left - timeout) > SLACK_S) {
          retimed++;
        } else continue;
        ops.push({ op: "add", ip: wanted.ip, timeout });
      }
      for (const { ip } of have.values()) {
        ops.push({ op: "del", ip });
        removed++;
      }
      const rejected = ops.length > 0 ? await this.#nft.apply(ops) : 0;
      this.stats.rejected += rejected;
      this.stats.resyncs++;
      this.stats.resyncAdded += added;
      this.stats.resyncRemoved += removed;
      this.stats.resyncRetimed += retimed;
      this.#syncedHandshakes = handshakes;
      this.#failuresInRow = 0;
      this.#lastResync = this.#now();
      const fields = { bans: bans.length, added, removed, retimed, rejected };
      // A resync that changes nothing is the normal case; a correction means commands were lost.
      this.#log(
        ops.length > 0 || rejected > 0 ? "warn" : "info",
        "resynced from the sensor",
        fields,
      );
      if (this.#o.resyncMs !== 0) this.#scheduleResync(this.#o.resyncMs ?? 60_000);
      this.onApplied?.("resync", ops.length);
      return true;
    } catch (error) {
      this.stats.resyncFailures++;
      this.#failuresInRow++;
      const first = this.#o.retryMs ?? 1000;
      const retryIn = Math.min(
        first * 2 ** Math.min(this.#failuresInRow - 1, 30),
        this.#o.retryMaxMs ?? 30_000,
      );
      const cause = (error as Error).cause;
      this.#log("warn", "resync failed; applying commands as they come, retrying", {
        error: (error as Error).message + (cause instanceof Error ? `: ${cause.message}` : ""),
        failures: this.#failuresInRow,
        retry_in_ms: retryIn,
      });
      this.#scheduleResync(retryIn);
      return false;
    }
  }

  #fetchBans(): Promise<BouncerBan[]> {
    return fetchBans(this.#o.api, { token: this.#o.token, rules: this.#o.rules });
  }

  #collect(): void {
    const m = this.metrics;
    const s = this.stats;
    const count = (name: string, help: string, labels: Record<string, string>, value: number) => {
      m.counter(name, help, labels).value = value;
    };
    const commands = "Commands received, by what the bouncer did with them";
    count("qts_bouncer_commands_total", commands, { result: "applied" }, s.commands);
    count("qts_bouncer_commands_total", commands, { result: "ignored" }, s.ignored);
    count("qts_bouncer_commands_total", commands, { result: "invalid" }, s.invalid);
    count("qts_bouncer_batches_total", "nft transactions of streamed commands", {}, s.batches);
    count("qts_bouncer_rejected_total", "Element changes nft rejected", {}, s.rejected);
    const resyncs = "Resyncs from the sensor's GET /bans, by result";
    count("qts_bouncer_resyncs_total", resyncs, { result: "ok" }, s.resyncs);
    count("qts_bouncer_resyncs_total", resyncs, { result: "failed" }, s.resyncFailures);
    const fixes = "Elements a resync had to correct (commands lost or sets changed by hand)";
    count("qts_bouncer_resync_corrections_total", fixes, { change: "added" }, s.resyncAdded);
    count("qts_bouncer_resync_corrections_total", fixes, { change: "removed" }, s.resyncRemoved);
    count("qts_bouncer_resync_corrections_total", fixes, { change: "retimed" }, s.resyncRetimed);
    count(
      "qts_bouncer_reconnects_total",
      "Handshakes with the sensor's PUB",
      {},
      this.#sub.stats.handshakes,
    );
    count("qts_bouncer_nft_runs_total", "nft invocations", {}, this.#nft.stats.runs);
    count(
      "qts_bouncer_nft_failures_total",
      "nft invocations that failed",
      {},
      this.#nft.stats.failures,
    );
    m.set("qts_bouncer_bans", "Bans held, one per (domain, rule, IP)", {}, this.#state.size);
    m.set("qts_bouncer_elements", "IPs and networks with a ban held", {}, this.#state.elements);
    m.set(
      "qts_bouncer_synced",
      "1 when resynced since the last reconnect",
      {},
      this.synced ? 1 : 0,
    );
    m.set(
      "qts_bouncer_last_resync_timestamp_seconds",
      "When the last resync succeeded (Unix time, 0 = never)",
      {},
      Math.floor(this.#lastResync / 1000),
    );
  }

  /** Stops receiving and resyncing, applies what is queued, and closes the socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#poll) clearInterval(this.#poll);
    if (this.#resyncTimer !== undefined) clearTimeout(this.#resyncTimer);
    this.#resyncTimer = undefined;
    await this.#sub.close();
    await this.#loop;
    await this.flush();
  }
}
