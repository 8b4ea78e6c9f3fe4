import type { LmConfig, ProjectionConfig } from "../../shared/config/components.ts";
import { hasAnyFlag } from "../filters/types.ts";
import type { RequestSample } from "../ingest/chain_runner.ts";
import type { BanEvidence, BanReason } from "./_evidence.ts";
import { sourceOf } from "../../shared/net/ip.ts";
import type { ActiveBan } from "./_ban_table.ts";
import { type Domain, newDomain } from "./_domain.ts";
import { listCaps, mergeProjections } from "./merge_projections.ts";
import { type BanCommand, MULTIPLE } from "./command.ts";
import {
  firstMode,
  isSet,
  isValidMode,
  type ProjectionMode,
  ProjectionState,
} from "./_projection.ts";
import {
  applySaved,
  banExtras,
  banTuple,
  type LoadedState,
  parseState,
  restoreState,
  savedMode,
  snapshotState,
} from "./_state_file.ts";
import { writeFileAtomic } from "../../shared/config/write_file_atomic.ts";
import { applyJournal, Journal, type JournalEntry, type LmFs, readJournal } from "./_journal.ts";

export type { ProjectionMode } from "./_projection.ts";

// Ban decisions kept for GET /ips/<ip> and history(); the oldest are dropped first.
const HISTORY_MAX = 10_000;
// Ban log lines: a burst, then this many a second (a wide attack bans thousands at once).
const BAN_LOG_BURST = 100;
const BAN_LOG_RATE = 20;

/** One ban decision, as GET /ips/<ip> lists them. */
export interface BanHistoryEntry {
  /** Decision time (ms). */
  at: number;
  domain_id: number;
  ip: string;
  rule_name: string;
  /** `add` and `del` were published; `simulated` was a would-be add. */
  action: "add" | "del" | "simulated";
  comment: string;
  projection: string;
}

// Repeat offenders remembered per domain; past it the longest-unbanned are forgotten first.
const OFFENDERS_MAX = 1_000_000;
// The longest `escalation.forget` a domain may hold offenders for, for the tick's sweep.
const FORGET_MAX_MS = 30 * 86_400_000;

/** Length of one projection window (seed §2.2.4.1: "every 30 seconds"). */
export const TICK_MS = 30_000;
// An explicit tick() up to this early still counts as the 30 s tick, so a caller's 30 s timer
// with jitter is never skipped; the lazy tick from onEvents waits the full 30 s.
const TICK_SLACK_MS = 1_000;

// A clock that jumped back more than a window (a replay restarting) restarts the windows; small
// steps back (records a few ms out of order) are ignored.
function due(now: number, lastTick: number, slack: number): boolean {
  return now >= lastTick + TICK_MS - slack || now < lastTick - TICK_MS;
}

/** Source of time in milliseconds; `Date` is one. Replay and tests inject event time. */
export interface Clock {
  now(): number;
}

/** Health of the state file and journal, for `/metrics`. */
export interface LmPersistence {
  /** Failed writes of the state file or the journal (a full disk) since start. */
  write_failures: number;
  /** Size of the journal now; compaction into the state file empties it. */
  journal_bytes: number;
  /** Commands waiting for their journal batch to be fsynced. */
  held: number;
  /** Whether a kill now would keep every published ban (false while writes fail). */
  durable: boolean;
}

/** Options of {@link ListManager}. */
export interface ListManagerOptions {
  /**
   * Receives every outbound command in decision order: synchronously, or, with `journalFile`,
   * once the journal batch holding its change is fsynced (a microtask plus one fsync later).
   */
  emit(cmd: BanCommand): void;
  /** Host name for `hoplite`. */
  hostname: string;
  /** ISO country code of an IP, `""` when unknown. Default: always `""`. */
  geo?: ((ip: string) => string) | undefined;
  /** Default: `Date` (wall clock). */
  clock?: Clock | undefined;
  /** The qpc component's `worker` prefix: commands say `<prefix>_<n>`. Default `"wrk"`. */
  workerPrefix?: string | undefined;
  /** Where active bans and projection modes persist; no persistence when absent. */
  stateFile?: string | undefined;
  /**
   * Append-only journal of ban changes (`lm-journal.jsonl` beside `stateFile`, which it needs).
   * The changes made in one turn of the event loop (one batch of records, one API call) are
   * appended and fsynced together before their commands reach `emit`, so a `kill -9` neither
   * loses a published ban nor makes the restarted sensor send it again. Restore replays it over
   * the state file; past `compactBytes` it is compacted into a fresh state file and emptied.
   * Without it commands are emitted at once and bans persist only through the debounced save.
   */
  journalFile?: string | undefined;
  /**
   * Journal size that triggers compaction (bytes). Default 4 MiB, or the size of the last
   * state file if larger, so a large ban table is not rewritten for every few bans.
   */
  compactBytes?: number | undefined;
  /**
   * Debounce of the automatic save after a change. Default 1000 ms (30 000 ms with a journal,
   * which already holds every ban; the save then only refreshes watched IPs and counters);
   * stretched to 20× the time the last save took to serialise, so a large ban table is not
   * rewritten every second.
   */
  saveDelayMs?: number | undefined;
  /** After a failed write (a full disk), the state is saved again this much later. Default 5000. */
  retryMs?: number | undefined;
  /** File operations; default `Deno`. Tests inject failing ones to play a full disk. */
  fs?: LmFs | undefined;
  /**
   * Called for every add (published or simulated) with the seconds from the source's first
   * matching event to the ban: the sensor's time-to-ban histogram.
   */
  onBan?: ((ban: { rule_name: string; seconds: number; simulated: boolean }) => void) | undefined;
  /** Structured log sink. */
  log?:
    | ((level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void)
    | undefined;
}

/** One active ban, as `GET /bans/<domain>` shows it; times in ms since the epoch. */
export interface Ban {
  ip: string;
  rule_name: string;
  comment: string;
  added_at: number;
  expires_at: number;
  /** Projection that added it (or, after that one was removed, one that also wanted it). */
  projection: string;
  /** A would-be ban of a projection in simulation: never published. */
  simulated: boolean;
  /** Why: the rule reached and the source's events (see {@linkcode BanEvidence}). */
  reason: string;
  /** Matching events of the source when it was banned. */
  events: number;
}

/** One ban of an IP with everything that made it, for `GET /bans/<domain>/<ip>`. */
export interface BanDetail extends Ban {
  domain_id: number;
  evidence: BanEvidence | null;
}

/** A projection's mode and counters, for `/stats` and tests. */
export interface ProjectionStatus {
  state: ProjectionConfig["state"];
  mode: ProjectionMode;
  rule_name: string;
  /** When the current mode was entered (ms). */
  since: number;
  /** Matching events and distinct IPs in the current window (IPs exact up to ≥ 1024). */
  events: number;
  ips: number;
  /** The same for the last completed window. */
  last_events: number;
  last_ips: number;
  /** IPs remembered in watch mode. */
  watched: number;
  /** Active bans this projection holds. */
  bans: number;
  /** Adds refused because the rule's list was full (`lists[].max_entries`). */
  refused: number;
  /** Sources banned alone through `bypass` while the projection was in nursery or watch. */
  bypassed: number;
  /** In simulation: its bans are would-be bans, never published. */
  simulate: boolean;
}

interface PendingAdd {
  reason: BanReason;
  projection: ProjectionState;
  /** The address, or an IPv6 client's network. */
  source: string;
  event: string;
  multiple: boolean;
  claimants: string[];
}

/**
 * The list manager (seed §2.2.4, SPEC §5): turns filter events into firewall commands through
 * each domain's projections. A projection in block mode sends one `add` per (rule_name, IP)
 * while the ban is active; auto projections start in nursery (counts only) or watch (remembers
 * IPs) and switch to block when a 30 s window reaches their thresholds. Driven by the ingest
 * pipeline (onEvents, tick) and the API (configure, removeDomain, bans, unban, modes).
 *
 * @example
 * ```ts
 * const lm = new ListManager({ emit: (c) => pub.send(formatCommand(c)), hostname: "s1" });
 * lm.configure(8984, domainLm, globalLm);
 * lm.onEvents(8984, "1.2.3.4", ["loc_rate_def1_GET/"], new Map(), 1);
 * ```
 */
export class ListManager {
  readonly #emit: (cmd: BanCommand) => void;
  readonly #geo: (ip: string) => string;
  readonly #clock: Clock;
  readonly #hostname: string;
  readonly #prefix: string;
  readonly #stateFile: string | undefined;
  readonly #saveDelay: number;
  readonly #log: NonNullable<ListManagerOptions["log"]>;
  readonly #onBan: ListManagerOptions["onBan"];
  readonly #domains = new Map<number, Domain>();
  /** Idle domains ({@linkcode forgetIdle}) still holding state: retried at every tick. */
  readonly #idle = new Set<number>();
  #lastTick: number;
  #saveTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #history: BanHistoryEntry[] = [];
  #logTokens = BAN_LOG_BURST;
  #logRefill = Date.now();
  #logSuppressed = 0;
  readonly #fs: LmFs;
  readonly #journal: Journal | undefined;
  readonly #compactBytes: number;
  readonly #retryMs: number;
  /** Generation of the journal in force; undefined until a snapshot (re)starts it. */
  #gen: string | undefined;
  /** Journal lines of the changes not written yet, and their commands, held until durable. */
  #batch: string[] = [];
  #held: BanCommand[] = [];
  #inflight = 0;
  #flushQueued = false;
  /** Persistence work (flushes, saves, restore), one at a time in order. */
  #tail: Promise<unknown> = Promise.resolve();
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;
  #failing = false;
  #lastError: unknown;
  #snapshotBytes = 0;
  #closed = false;
  /** close() has flushed everything: commands go straight out from now on. */
  #ended = false;
  /** Main-thread ms the last save took to serialise; spaces saves out during an attack. */
  #saveCost = 0;

  constructor(options: ListManagerOptions) {
    this.#emit = options.emit;
    this.#geo = options.geo ?? (() => "");
    this.#clock = options.clock ?? Date;
    this.#hostname = options.hostname;
    this.#prefix = options.workerPrefix ?? "wrk";
    this.#stateFile = options.stateFile;
    this.#fs = options.fs ?? Deno;
    this.#journal = options.journalFile !== undefined && options.stateFile !== undefined
      ? new Journal(options.journalFile, this.#fs)
      : undefined;
    this.#saveDelay = options.saveDelayMs ?? (this.#journal ? 30_000 : 1000);
    this.#compactBytes = options.compactBytes ?? 4 << 20;
    this.#retryMs = options.retryMs ?? 5000;
    this.#log = options.log ?? (() => {});
    this.#onBan = options.onBan;
    this.#lastTick = this.#clock.now();
  }

  /**
   * Applies a domain's lm configuration: its own projections plus, when
   * `use_component_projections`, the global ones it does not override by name. Idempotent:
   * modes, counters, watched IPs and bans survive re-applying; a projection that is disabled or
   * gone sends `del` for the bans only it wanted. `qpc` (the domain's component) sets the
   * `worker` prefix and `broadcast` of its commands from now on. Throws (changing nothing) on a
   * duplicate projection name or a bad regex.
   */
  configure(
    domainId: number,
    lm: LmConfig,
    globalLm?: LmConfig,
    qpc?: { worker: string; broadcast: boolean },
  ): void {
    const configs = mergeProjections(domainId, lm, globalLm);
    const now = this.#clock.now();
    this.#idle.delete(domainId); // in use again
    let d = this.#domains.get(domainId);
    if (!d) {
      d = newDomain(domainId);
      this.#domains.set(domainId, d);
    }
    const projections: ProjectionState[] = [];
    const byName = new Map<string, ProjectionState>();
    for (const config of configs) {
      let p = d.byName.get(config.name);
      if (p) {
        const stateChanged = p.config.state !== config.state;
        // Leaving simulation: its would-be bans were never published; forget them quietly so
        // the projection bans for real from now on.
        if (p.config.simulate && !config.simulate) {
          for (const ban of dropSimulated(d, config.name)) this.#noteDel(d.id, ban);
        }
        p.reconfigure(config);
        if (stateChanged || !isValidMode(config, p.mode)) {
          this.#transition(d, p, firstMode(config), now, stateChanged ? "state" : "config");
        }
      } else {
        p = new ProjectionState(config, now);
        const saved = d.pendingModes?.[config.name];
        if (saved) applySaved(p, saved);
      }
      projections.push(p);
      byName.set(config.name, p);
    }
    delete d.pendingModes;
    d.caps = listCaps(lm, globalLm);
    if (qpc) d.qpc = { worker: qpc.worker, broadcast: qpc.broadcast };
    else delete d.qpc;
    d.projections = projections;
    d.byName = byName;
    this.#releaseOrphans(d, now);
    this.#changed();
  }

  /**
   * Throws what {@link configure} would throw for this configuration (duplicate projection
   * name, bad regex) without touching any state: lets a caller validate a whole domain before
   * applying any part of it.
   */
  static check(domainId: number, lm: LmConfig, globalLm?: LmConfig): void {
    mergeProjections(domainId, lm, globalLm);
  }

  /** Forgets a domain, sending `del` for each of its active bans. Returns how many. */
  removeDomain(domainId: number): number {
    const d = this.#domains.get(domainId);
    if (!d) return 0;
    const now = this.#clock.now();
    let n = 0;
    for (const ban of d.bans.values()) {
      if (ban.expires_at > now) {
        this.#sendDel(d.id, ban, now);
        n++;
      }
    }
    this.#domains.delete(domainId);
    this.#idle.delete(domainId);
    this.#note({ o: "rm", d: domainId });
    this.#changed();
    return n;
  }

  /**
   * Forgets an idle domain (the pipeline dropped its chain) once that can change no later
   * decision: no active ban (simulated ones included), no repeat offender, no watched IP, and
   * every projection in the mode it starts in, with nothing counted in its current window and
   * no per-source evidence or bypass count. Sends nothing (no `del`); the journal records the
   * removal as {@linkcode removeDomain} does. A domain still holding such state is retried at
   * every tick until it can go, unless {@linkcode configure} puts it back in use first. Returns
   * true when the domain is gone (or was never known).
   */
  forgetIdle(domainId: number): boolean {
    const d = this.#domains.get(domainId);
    if (d === undefined) {
      this.#idle.delete(domainId);
      return true;
    }
    if (!quiet(d, this.#clock.now())) {
      this.#idle.add(domainId);
      return false;
    }
    this.#forget(d);
    return true;
  }

  #forget(d: Domain): void {
    this.#domains.delete(d.id);
    this.#idle.delete(d.id);
    this.#note({ o: "rm", d: d.id });
    this.#changed();
  }

  /**
   * Feeds the events one request produced. Cheap when nothing matches: per-projection cached
   * regex results and Map lookups only. `worker` is the number in `wrk_<n>`.
   */
  onEvents(
    domainId: number,
    ip: string,
    events: readonly string[],
    flags: ReadonlyMap<string, boolean>,
    worker: number,
    sample?: RequestSample,
  ): void {
    if (events.length === 0) return;
    const now = this.#clock.now();
    if (due(now, this.#lastTick, 0)) this.#evaluate(now);
    const d = this.#domains.get(domainId);
    if (!d) return;
    let pending: Map<string, PendingAdd> | undefined;
    for (const p of d.projections) {
      if (p.mode === "disabled") continue;
      const config = p.config;
      if (config.skip_if.length > 0 && hasAnyFlag(flags, config.skip_if)) continue;
      let first: string | undefined;
      let multiple = false;
      let n = 0;
      for (const event of events) {
        if (!p.matches(event)) continue;
        n++;
        if (first === undefined) first = event;
        else if (event !== first) multiple = true;
      }
      if (first === undefined) continue;
      // An IPv6 client counts, and is banned, as its /ipv6_prefix network.
      const source = config.ipv6_prefix < 128 && ip.includes(":")
        ? sourceOf(ip, config.ipv6_prefix)
        : ip;
      p.count(source, n, now);
      p.book.note(source, events, p, now, sample);
      let block = p.mode === "block";
      let reason: BanReason = "event";
      if (!block) {
        if (p.mode === "watch") p.watch(source, first, multiple, worker, now);
        // One source alone far over the bypass threshold is banned without waiting for the
        // projection to leave nursery or watch: a clear attack does not wait a minute.
        if (p.bypass !== undefined && p.bypass.add(source, n, now) >= config.bypass.events) {
          p.bypass.delete(source);
          p.bypassed++;
          block = true;
          reason = "bypass";
        }
      } else if (p.evidence !== undefined) {
        // Block mode punishes sources, not every visitor: an add needs per-source evidence.
        if (p.evidence.add(source, n, now) < config.evidence.events) continue;
        p.evidence.delete(source);
        reason = "evidence";
      }
      if (!block) continue;
      const ban = d.bans.get(config.rule_name, source);
      // A would-be ban of a simulating projection does not stand in for a real one.
      if (ban !== undefined && ban.expires_at > now && !(ban.simulated && !config.simulate)) {
        if (!ban.claimants.includes(config.name)) {
          ban.claimants.push(config.name);
          this.#noteBan(d.id, ban);
        }
        continue;
      }
      pending ??= new Map();
      const add = pending.get(config.rule_name);
      if (!add) {
        pending.set(config.rule_name, {
          projection: p,
          source,
          event: first,
          multiple,
          claimants: [],
          reason,
        });
      } else {
        // Two projections with one rule_name: one command, which then stems from both.
        if (multiple || first !== add.event) add.multiple = true;
        add.claimants.push(config.name);
      }
    }
    if (!pending) return;
    for (const add of pending.values()) {
      const comment = add.multiple ? MULTIPLE : add.event;
      this.#sendAdd(d, add.projection, add.source, comment, worker, now, add.claimants, add.reason);
    }
  }

  /**
   * The 30 s tick: closes the window of every projection and applies mode transitions
   * (nursery → watch/block, watch → block with an `add` per watched IP, block → first mode
   * after cooldown), drops idle watched IPs and expired bans. Call it every 30 s (a little
   * early is fine; calling more often does nothing until the window is due). onEvents also
   * runs it when event time passes the window, so replay needs no timer. Returns true when a
   * window was evaluated.
   */
  tick(): boolean {
    const now = this.#clock.now();
    if (!due(now, this.#lastTick, TICK_SLACK_MS)) return false;
    this.#evaluate(now);
    return true;
  }

  /** Active bans of a domain, oldest first. */
  bans(domainId: number): Ban[] {
    const d = this.#domains.get(domainId);
    if (!d) return [];
    const now = this.#clock.now();
    const out: Ban[] = [];
    for (const ban of d.bans.values()) {
      if (ban.expires_at <= now) continue;
      out.push(banView(ban));
    }
    return out.sort((a, b) => a.added_at - b.added_at);
  }

  /**
   * The active bans of an IP (or the IPv6 network it was counted in) with their evidence, in
   * one domain or, without `domainId`, in every domain.
   */
  banDetails(ip: string, domainId?: number): BanDetail[] {
    const now = this.#clock.now();
    const out: BanDetail[] = [];
    for (const d of this.#domains.values()) {
      if (domainId !== undefined && d.id !== domainId) continue;
      for (const source of sourcesOf(d, ip)) {
        for (const ban of d.bans.ofIp(source)) {
          if (ban.expires_at <= now) continue;
          out.push({ domain_id: d.id, ...banView(ban), evidence: ban.evidence ?? null });
        }
      }
    }
    return out.sort((a, b) => a.added_at - b.added_at);
  }

  /**
   * Manual unban: `del` for each active ban of `ip` in the domain, and forgets the IP in watch
   * lists so an activation does not re-add it at once. Returns how many bans were lifted.
   */
  unban(domainId: number, ip: string): number {
    const d = this.#domains.get(domainId);
    if (!d) return 0;
    const now = this.#clock.now();
    let n = 0;
    // An IPv6 address also lifts the ban of the network it was counted and banned as.
    for (const source of sourcesOf(d, ip)) {
      for (const ban of d.bans.ofIp(source)) {
        d.bans.delete(ban);
        if (ban.expires_at <= now) continue;
        this.#sendDel(d.id, ban, now);
        n++;
      }
      for (const p of d.projections) {
        p.watched.delete(source);
        p.evidence?.delete(source);
        p.bypass?.delete(source);
      }
    }
    if (n > 0) this.#changed();
    return n;
  }

  /** Mode and counters of each projection of a domain, by projection name. */
  modes(domainId: number): Record<string, ProjectionStatus> {
    const out: Record<string, ProjectionStatus> = {};
    const d = this.#domains.get(domainId);
    if (!d) return out;
    const now = this.#clock.now();
    const held = new Map<string, number>();
    for (const ban of d.bans.values()) {
      if (ban.expires_at <= now) continue;
      for (const name of ban.claimants) held.set(name, (held.get(name) ?? 0) + 1);
    }
    for (const p of d.projections) {
      out[p.config.name] = {
        state: p.config.state,
        mode: p.mode,
        rule_name: p.config.rule_name,
        since: p.since,
        events: p.events,
        ips: p.ips,
        last_events: p.lastEvents,
        last_ips: p.lastIps,
        watched: p.watched.size,
        bans: held.get(p.config.name) ?? 0,
        refused: p.refused,
        bypassed: p.bypassed,
        simulate: p.config.simulate,
      };
    }
    return out;
  }

  /** Ids of the domains that have configuration or restored bans. */
  domainIds(): number[] {
    return [...this.#domains.keys()];
  }

  /**
   * Writes active bans and projection modes to the state file atomically (no-op without one),
   * after the changes before it; with a journal this compacts it (the journal restarts empty).
   * Rejects when the state could not be made durable (a full disk): the bans stay in memory, the
   * failure is counted and logged once, and the save is tried again `retryMs` later.
   */
  save(): Promise<void> {
    if (this.#saveTimer !== undefined) {
      clearTimeout(this.#saveTimer);
      this.#saveTimer = undefined;
    }
    if (this.#stateFile === undefined) return Promise.resolve();
    return this.#enqueue(async () => {
      if (!(await this.#flush(true))) throw this.#lastError;
    });
  }

  /**
   * Loads bans and modes saved by {@link save}, then replays the journal written after that
   * save, without sending anything; expired bans are dropped. Call before the first change
   * (before or after configure). A corrupt state file is renamed aside and logged. Returns the
   * number of active bans restored.
   */
  restore(): Promise<number> {
    return this.#enqueue(() => this.#restore());
  }

  async #restore(): Promise<number> {
    const path = this.#stateFile;
    if (path === undefined) return 0;
    const now = this.#clock.now();
    let state: LoadedState | undefined;
    let restored = 0;
    try {
      state = parseState(await this.#fs.readTextFile(path), path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        if (!(error instanceof SyntaxError)) throw error;
        const aside = `${path}.corrupt-${Date.now()}`;
        await this.#fs.rename(path, aside).catch(() => {});
        this.#log("error", error.message, { moved_to: aside });
      }
    }
    if (state) restored = restoreState(this.#domains, state, now);
    const journal = this.#journal;
    if (journal === undefined) {
      if (state) this.#log("info", `lm: restored ${restored} active bans from ${path}`);
      return restored;
    }
    const loaded = await readJournal(journal.path, this.#fs);
    // A journal of another generation is older than the state file (a crash between writing the
    // state file and emptying the journal): the state file already holds all of it.
    const current = loaded.gen !== undefined &&
      (state === undefined || state.journal === loaded.gen);
    const replayed = current ? applyJournal(this.#domains, loaded.entries, now) : 0;
    if (loaded.skipped > 0) {
      this.#log("warn", `lm: ${loaded.skipped} unreadable journal lines skipped`, {
        path: journal.path,
      });
    }
    // A fresh state file at once: the journal restarts empty (no torn or stale lines left), and
    // the first ban after the restart is not held behind a whole snapshot.
    await this.#persist([], true);
    restored = 0;
    for (const d of this.#domains.values()) {
      for (const ban of d.bans.values()) if (ban.expires_at > now) restored++;
    }
    this.#log("info", `lm: restored ${restored} active bans from ${path} and ${journal.path}`, {
      journal_entries: replayed,
      ...(loaded.gen !== undefined && !current ? { stale_journal: loaded.entries.length } : {}),
    });
    return restored;
  }

  /**
   * Stops the debounced save, waits for held commands to become durable and go out, and writes
   * the state one last time. Never throws: a failure (a full disk) is logged and counted, the
   * journal keeps what it already holds.
   */
  async close(): Promise<void> {
    if (this.#closed) return await this.#tail.then(() => {});
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (this.#stateFile !== undefined) await this.save().catch(() => {});
    this.#journal?.close();
    this.#ended = true;
  }

  /**
   * Resolves once every change made so far is in the journal (fsynced) and its commands were
   * emitted. Without a journal commands are emitted at once, and this resolves at once too.
   */
  flush(): Promise<void> {
    if (this.#journal === undefined || this.#ended) return Promise.resolve();
    return this.#enqueue(() => this.#flush(false)).then(() => {});
  }

  /** Health of the state file and journal, for `/metrics`. */
  persistence(): LmPersistence {
    return {
      write_failures: this.#failures,
      journal_bytes: this.#journal?.bytes || 0,
      held: this.#held.length + this.#inflight,
      durable: this.#journal ? this.#gen !== undefined : !this.#failing,
    };
  }

  /** Records a change for the journal (no-op without one). */
  #note(entry: JournalEntry): void {
    if (this.#journal === undefined || this.#ended) return;
    this.#batch.push(`${JSON.stringify(entry)}\n`);
    this.#queueFlush();
  }

  #noteBan(domainId: number, ban: ActiveBan): void {
    if (this.#journal === undefined) return;
    const x = banExtras(ban);
    this.#note({ o: "ban", d: domainId, b: banTuple(ban), ...(x ? { x } : {}) });
  }

  #noteDel(domainId: number, ban: ActiveBan): void {
    if (this.#journal === undefined) return;
    this.#note({ o: "del", d: domainId, r: ban.rule_name, i: ban.ip });
  }

  /** Sends a command: at once, or with a journal once the batch of its change is durable. */
  #out(cmd: BanCommand): void {
    if (this.#journal === undefined || this.#ended) return this.#emit(cmd);
    this.#held.push(cmd);
    this.#queueFlush();
  }

  #queueFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    // Behind the write in flight: what piles up meanwhile goes out as the next batch.
    void this.#enqueue(() => this.#flush(false));
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task);
    this.#tail = run.catch(() => {});
    return run;
  }

  /**
   * Makes the pending changes durable (journal append, or a snapshot when `force`, when the
   * journal is due for compaction or has to restart), then releases their commands in order.
   * Returns whether they are durable; the commands go out either way (a full disk must not stop
   * bans from reaching the firewalls).
   */
  async #flush(force: boolean): Promise<boolean> {
    this.#flushQueued = false;
    const lines = this.#batch;
    const commands = this.#held;
    if (!force && lines.length === 0 && commands.length === 0) return true;
    this.#batch = [];
    this.#held = [];
    this.#inflight = commands.length;
    let durable = false;
    try {
      durable = await this.#persist(lines, force);
    } finally {
      this.#inflight = 0;
      for (const cmd of commands) {
        try {
          this.#emit(cmd);
        } catch (error) {
          this.#log("error", `lm: emit failed: ${error}`, { ip: cmd.ip_addr });
        }
      }
    }
    return durable;
  }

  async #persist(lines: string[], force: boolean): Promise<boolean> {
    const journal = this.#journal;
    if (journal === undefined) return force ? await this.#snapshot() : true;
    const due = this.#gen === undefined ||
      journal.bytes >= Math.max(this.#compactBytes, this.#snapshotBytes);
    // While writes fail, only the retry timer (and explicit saves) try a whole snapshot again.
    if ((force || (due && !this.#failing)) && await this.#snapshot()) return true;
    if (this.#gen === undefined) return false;
    if (lines.length === 0) return true; // the journal already holds every change
    try {
      await journal.append(lines.join(""));
      return true;
    } catch (error) {
      // A partial line may be on disk: no more appends until a snapshot restarts the journal.
      this.#gen = undefined;
      this.#fail(`append to ${journal.path}`, error);
      return false;
    }
  }

  /** Writes the state file (and restarts the journal); false when the state file failed. */
  async #snapshot(): Promise<boolean> {
    const path = this.#stateFile!;
    const journal = this.#journal;
    const gen = journal ? crypto.randomUUID() : undefined;
    const started = performance.now();
    const text = JSON.stringify(snapshotState(this.#domains.values(), this.#clock.now(), gen));
    this.#saveCost = performance.now() - started;
    try {
      // Bans name client addresses: the state file and its directory are the owner's alone.
      await writeFileAtomic(path, text, { fs: this.#fs, mode: 0o600, dirMode: 0o700 });
    } catch (error) {
      this.#fail(`save state to ${path}`, error);
      return false;
    }
    this.#snapshotBytes = text.length;
    if (journal && gen !== undefined) {
      try {
        await journal.reset(gen);
        this.#gen = gen;
      } catch (error) {
        // The state file is durable; the old journal names another generation and is ignored.
        this.#gen = undefined;
        this.#fail(`empty ${journal.path}`, error);
        return true;
      }
    }
    if (this.#failing) {
      this.#failing = false;
      this.#log("info", `lm: state saved to ${path} again`, { failed_writes: this.#failures });
    }
    return true;
  }

  /** Counts a failed write, logs the first of a run once, and schedules another try. */
  #fail(what: string, error: unknown): void {
    this.#failures++;
    this.#lastError = error;
    if (!this.#failing) {
      this.#failing = true;
      this.#log(
        "error",
        `lm: cannot ${what}: ${(error as Error)?.message ?? error}; bans stay in memory ` +
          `(published, not durable) and are saved when writes succeed again`,
        { retry_ms: this.#retryMs },
      );
    }
    if (this.#closed || this.#retryTimer !== undefined) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.save().catch(() => {});
    }, this.#retryMs);
  }

  #evaluate(now: number): void {
    this.#lastTick = now;
    for (const d of this.#domains.values()) {
      d.bans.sweep(now);
      sweepOffenders(d, now);
      for (const p of d.projections) {
        const config = p.config;
        p.evidence?.expire(now);
        p.bypass?.expire(now);
        switch (p.mode) {
          case "nursery":
            if (p.reached(config.nursery)) {
              this.#transition(d, p, isSet(config.activation) ? "watch" : "block", now, "nursery");
            }
            break;
          case "watch":
            p.dropIdle(now);
            if (p.reached(config.activation)) this.#transition(d, p, "block", now, "activation");
            break;
          case "block":
            if (
              config.state === "auto" && config.cooldown > 0 &&
              now - p.lastMatchAt >= config.cooldown * 1000
            ) {
              const back = firstMode(config);
              if (back !== "block") this.#transition(d, p, back, now, "cooldown");
            }
            break;
        }
        if (p.refused > p.refusedLogged) {
          this.#log("warn", `lm: domain ${d.id} list "${config.rule_name}" is full`, {
            projection: config.name,
            refused: p.refused - p.refusedLogged,
          });
          p.refusedLogged = p.refused;
        }
        p.roll();
      }
    }
    for (const id of this.#idle) {
      const d = this.#domains.get(id);
      if (d === undefined) this.#idle.delete(id);
      else if (quiet(d, now)) this.#forget(d);
    }
  }

  #transition(
    d: Domain,
    p: ProjectionState,
    mode: ProjectionMode,
    now: number,
    why: string,
  ): void {
    const from = p.mode;
    if (from === mode) return;
    if (from === "watch" && mode === "block") {
      // Seed §2.2.4.1.3: at once, an add for every IP collected while watching.
      const rule = p.config.rule_name;
      for (const [ip, entry] of p.watched) {
        const ban = d.bans.get(rule, ip);
        if (ban !== undefined && ban.expires_at > now) {
          if (!ban.claimants.includes(p.config.name)) {
            ban.claimants.push(p.config.name);
            this.#noteBan(d.id, ban);
          }
          continue;
        }
        const comment = entry.multiple ? MULTIPLE : entry.event;
        this.#sendAdd(d, p, ip, comment, entry.worker, now, [], "activation");
      }
    }
    this.#log("info", `lm: domain ${d.id} projection "${p.config.name}" ${from} -> ${mode}`, {
      reason: why,
      events: p.events,
      ips: p.ips,
      watched: p.watched.size,
    });
    p.setMode(mode, now, why);
    this.#note({ o: "mode", d: d.id, p: p.config.name, m: savedMode(p) });
    if (mode === "disabled") this.#releaseOrphans(d, now);
    this.#changed();
  }

  /** Sends `del` for active bans no configured, non-disabled projection wants any more. */
  #releaseOrphans(d: Domain, now: number): void {
    for (const ban of d.bans.values()) {
      if (ban.expires_at <= now) {
        d.bans.delete(ban);
        continue;
      }
      const alive = ban.claimants.filter((name) => {
        const p = d.byName.get(name);
        return p !== undefined && p.mode !== "disabled";
      });
      if (alive.length === ban.claimants.length) continue;
      if (alive.length > 0) {
        ban.claimants = alive;
        this.#noteBan(d.id, ban);
        continue;
      }
      d.bans.delete(ban);
      this.#sendDel(d.id, ban, now);
    }
  }

  #sendAdd(
    d: Domain,
    p: ProjectionState,
    ip: string,
    comment: string,
    worker: number,
    now: number,
    also: string[],
    reason: BanReason,
  ): void {
    const config = p.config;
    const cap = d.caps.get(config.rule_name);
    if (cap !== undefined && d.bans.size(config.rule_name) >= cap) {
      d.bans.sweep(now, config.rule_name);
      if (d.bans.size(config.rule_name) >= cap) {
        p.refused++;
        return;
      }
    }
    const simulated = config.simulate;
    // A simulated ban neither counts as an offence nor escalates a later real one.
    const timeout = this.#banTime(d, config, ip, now, !simulated);
    const threshold = reason === "evidence"
      ? config.evidence
      : reason === "bypass"
      ? config.bypass
      : reason === "activation"
      ? { events: config.activation.events, window: TICK_MS / 1000 }
      : null;
    const evidence = p.book.evidence(
      ip,
      {
        projection: config.name,
        mode: p.mode,
        reason,
        threshold,
        ...(p.change !== undefined ? { mode_change: p.change } : {}),
      },
      now,
    );
    p.book.delete(ip);
    const ban: ActiveBan = {
      ip,
      rule_name: config.rule_name,
      comment,
      added_at: now,
      expires_at: now + timeout * 1000,
      worker: `${d.qpc?.worker ?? this.#prefix}_${worker}`,
      claimants: [config.name, ...also],
      evidence,
      ...(simulated ? { simulated: true } : {}),
    };
    d.bans.set(ban);
    this.#noteBan(d.id, ban);
    this.#banLog(simulated ? "would ban" : "ban", d.id, ban, { timeout, evidence });
    this.#onBan?.({
      rule_name: config.rule_name,
      seconds: Math.max(0, now - evidence.first_at) / 1000,
      simulated,
    });
    if (!simulated) {
      this.#out({
        domain_id: d.id,
        comment,
        rule_name: config.rule_name,
        method: "add",
        ip_addr: ip,
        geo: this.#geo(ip),
        timestamp: now / 1000,
        timeout,
        worker: ban.worker,
        broadcast: d.qpc?.broadcast ?? false,
        hoplite: this.#hostname,
      });
    }
    this.#changed();
  }

  /**
   * One structured log line per ban decision (add, del, would-be), with its evidence, so the
   * person on call can answer "why was this IP banned?" from the log alone. Rate-limited: at
   * most BAN_LOG_BURST lines, refilled at BAN_LOG_RATE a second; the next line says how many
   * were left out. The history ring keeps every decision regardless.
   */
  #banLog(
    what: "ban" | "would ban" | "unban",
    domainId: number,
    ban: ActiveBan,
    extra: Record<string, unknown>,
  ): void {
    const entry: BanHistoryEntry = {
      at: this.#clock.now(),
      domain_id: domainId,
      ip: ban.ip,
      rule_name: ban.rule_name,
      action: what === "unban" ? "del" : what === "ban" ? "add" : "simulated",
      comment: ban.comment,
      projection: ban.claimants[0] ?? "",
    };
    this.#history.push(entry);
    // Cut in chunks: taking one entry off the front each time moved the whole array (~8 µs a
    // ban at 10k entries).
    if (this.#history.length >= 2 * HISTORY_MAX) {
      this.#history.splice(0, this.#history.length - HISTORY_MAX);
    }
    const wall = Date.now();
    this.#logTokens = Math.min(
      BAN_LOG_BURST,
      this.#logTokens + ((wall - this.#logRefill) / 1000) * BAN_LOG_RATE,
    );
    this.#logRefill = wall;
    if (this.#logTokens < 1) {
      this.#logSuppressed++;
      return;
    }
    this.#logTokens--;
    const suppressed = this.#logSuppressed;
    this.#logSuppressed = 0;
    this.#log("info", `lm: ${what} ${ban.ip}`, {
      domain: domainId,
      ip: ban.ip,
      rule_name: ban.rule_name,
      comment: ban.comment,
      projection: ban.claimants[0] ?? "",
      ...extra,
      ...(suppressed > 0 ? { unlogged_before: suppressed } : {}),
    });
  }

  /**
   * Bans and unbans of an IP (or of every IP) in decision order, oldest first, across domains:
   * the last HISTORY_MAX decisions of this process.
   */
  history(ip?: string): BanHistoryEntry[] {
    const recent = this.#history.slice(-HISTORY_MAX);
    return ip === undefined ? recent : recent.filter((h) => h.ip === ip);
  }

  /**
   * The ban time of a new add: the projection's `timeout`, times `escalation.factor` for each
   * earlier ban of the source under the same rule (fail2ban's bantime.increment), at most
   * `escalation.max`; a source not banned for `escalation.forget` seconds starts over.
   */
  #banTime(
    d: Domain,
    config: ProjectionConfig,
    source: string,
    now: number,
    record: boolean,
  ): number {
    const { factor, max, forget } = config.escalation;
    if (factor <= 1) return config.timeout;
    const key = `${config.rule_name}\n${source}`;
    let offender = d.offenders.get(key);
    if (offender !== undefined && now - offender.last >= forget * 1000) offender = undefined;
    const earlier = offender?.bans ?? 0;
    if (!record) {
      return Math.round(
        Math.min(Math.max(max, config.timeout), config.timeout * factor ** earlier),
      );
    }
    d.offenders.delete(key); // re-inserted last: the order is last-ban order for the sweep
    d.offenders.set(key, { bans: earlier + 1, last: now });
    this.#note({ o: "off", d: d.id, k: key, n: earlier + 1, l: now });
    if (d.offenders.size > OFFENDERS_MAX) d.offenders.deleteOldest();
    return Math.round(Math.min(Math.max(max, config.timeout), config.timeout * factor ** earlier));
  }

  #sendDel(domainId: number, ban: ActiveBan, now: number): void {
    const d = this.#domains.get(domainId);
    this.#banLog("unban", domainId, ban, ban.simulated ? { simulated: true } : {});
    this.#noteDel(domainId, ban);
    // A simulated ban was never published: nothing to take back.
    if (ban.simulated) return this.#changed();
    this.#out({
      domain_id: domainId,
      comment: ban.comment,
      rule_name: ban.rule_name,
      method: "del",
      ip_addr: ban.ip,
      geo: this.#geo(ban.ip),
      timestamp: now / 1000,
      worker: ban.worker,
      broadcast: d?.qpc?.broadcast ?? false,
      hoplite: this.#hostname,
    });
    this.#changed();
  }

  #changed(): void {
    if (this.#stateFile === undefined || this.#closed || this.#saveTimer !== undefined) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      // A failure is counted, logged and retried inside.
      this.save().catch(() => {});
    }, Math.max(this.#saveDelay, 20 * this.#saveCost));
  }
}

/** Forgets offenders whose last ban is older than every projection's `escalation.forget`. */
/** The address and, for IPv6, each network a projection of the domain counts it in. */
function sourcesOf(d: Domain, ip: string): Set<string> {
  const sources = new Set([ip]);
  if (ip.includes(":")) {
    for (const p of d.projections) sources.add(sourceOf(ip, p.config.ipv6_prefix));
  }
  return sources;
}

/** A ban as the API and the CLI show it. */
function banView(ban: ActiveBan): Ban {
  return {
    ip: ban.ip,
    rule_name: ban.rule_name,
    comment: ban.comment,
    added_at: ban.added_at,
    expires_at: ban.expires_at,
    projection: ban.claimants[0] ?? "",
    simulated: ban.simulated === true,
    reason: ban.evidence?.reason ?? "",
    events: ban.evidence?.count ?? 0,
  };
}

function sweepOffenders(d: Domain, now: number): void {
  if (d.offenders.size === 0) return;
  let forget = 0;
  for (const p of d.projections) forget = Math.max(forget, p.config.escalation.forget * 1000);
  const limit = now - Math.min(forget, FORGET_MAX_MS);
  for (const [key, offender] of d.offenders) {
    if (offender.last > limit) break;
    d.offenders.delete(key);
  }
}

/**
 * True when a domain holds nothing a later decision depends on: what a freshly configured
 * domain would hold (see {@linkcode ListManager.forgetIdle}).
 */
function quiet(d: Domain, now: number): boolean {
  if (d.offenders.size > 0 || d.pendingModes !== undefined) return false;
  for (const ban of d.bans.values()) if (ban.expires_at > now) return false;
  for (const p of d.projections) {
    if (p.mode !== firstMode(p.config) || p.events > 0 || p.ips > 0) return false;
    if (p.watched.size > 0) return false;
    // Evidence of sources quiet past the book's idle time is what a later note would drop.
    p.book.expire(now);
    if (p.book.size > 0) return false;
    if ((p.evidence?.size ?? 0) > 0 || (p.bypass?.size ?? 0) > 0) return false;
  }
  return true;
}

/** Forgets the simulated bans a projection added (nothing was published for them). */
function dropSimulated(d: Domain, projection: string): ActiveBan[] {
  const dropped: ActiveBan[] = [];
  for (const ban of [...d.bans.values()]) {
    if (ban.simulated && ban.claimants[0] === projection) {
      d.bans.delete(ban);
      dropped.push(ban);
    }
  }
  return dropped;
}
