import type { ProjectionConfig, Threshold } from "../../shared/config/components.ts";
import { compileRegex, type Matcher } from "../../shared/config/regex.ts";
import { SourceWindow } from "./_source_window.ts";
import { EvidenceBook, type ModeChange } from "./_evidence.ts";
import { fnv1a } from "../../shared/hash/fnv1a.ts";

/** A projection's working mode (seed §2.2.4.1: Ясли, Наблюдение, Блокировка) or disabled. */
export type ProjectionMode = "nursery" | "watch" | "block" | "disabled";

/** What a watched IP has done since it was first seen in watch mode. */
export interface WatchEntry {
  lastSeen: number;
  /** First matching event name. */
  event: string;
  /** True once a second distinct event name was seen. */
  multiple: boolean;
  worker: number;
}

// Event names come from configuration (zone names, list names) plus whatever Lua scripts return;
// the cap only guards against a script that returns unbounded names.
const MATCH_CACHE_MAX = 4096;
// Distinct IPs of one window are counted exactly up to this many (or the threshold, if higher);
// beyond it only "at least" matters for thresholds and /stats.
const DISTINCT_CAP = 1024;
/** Watched IPs per projection; an attack wider than this bans the first ones seen. */
export const WATCH_MAX = 1_000_000;

/** How long a quiet source's evidence is kept: the longest window the projection counts in. */
function evidenceIdle(config: ProjectionConfig): number {
  return Math.max(60, config.evidence.window, config.bypass.window, config.watch_ttl);
}

/** True when a threshold is configured: any non-zero part (0 means "not required"). */
export function isSet(t: Threshold): boolean {
  return t.events > 0 || t.ips > 0;
}

/** The mode an auto projection starts in and returns to after cooldown. */
export function firstMode(config: ProjectionConfig): ProjectionMode {
  if (config.state === "disabled") return "disabled";
  if (config.state === "enabled") return "block";
  if (isSet(config.nursery)) return "nursery";
  if (isSet(config.activation)) return "watch";
  return "block";
}

/** True when `mode` is reachable under `config` (a reload may remove a threshold). */
export function isValidMode(config: ProjectionConfig, mode: ProjectionMode): boolean {
  switch (config.state) {
    case "disabled":
      return mode === "disabled";
    case "enabled":
      return mode === "block";
    default:
      return mode === "block" ||
        (mode === "nursery" && isSet(config.nursery)) ||
        (mode === "watch" && isSet(config.activation));
  }
}

/**
 * The run-time state of one projection in one domain: compiled matcher, mode, the counters of
 * the current 30 s window and, in watch mode, the watched IPs.
 */
export class ProjectionState {
  config: ProjectionConfig;
  mode: ProjectionMode;
  /** When the current mode was entered (ms). */
  since: number;
  /** The last change of mode in this process, for the evidence of the bans made after it. */
  change: ModeChange | undefined;
  /** Last matching event (ms); drives cooldown. */
  lastMatchAt: number;
  /** Matching events in the current window. */
  events = 0;
  /** Matching events and distinct IPs of the last completed window. */
  lastEvents = 0;
  lastIps = 0;
  /** Adds refused because the rule's list was full. */
  refused = 0;
  /** Sources banned alone through `bypass` while in nursery or watch. */
  bypassed = 0;
  /** `refused` when last logged (once per window at most). */
  refusedLogged = 0;
  readonly watched = new Map<string, WatchEntry>();
  /** What each recently active source did, for the evidence of its ban. */
  readonly book: EvidenceBook;
  /** Per-source evidence before an add in block mode; absent when one event is enough. */
  evidence: SourceWindow | undefined;
  /** Per-source counts that ban one source alone in nursery or watch; absent when off. */
  bypass: SourceWindow | undefined;
  #matcher: Matcher;
  // Created on first use: a domain's projections may never see an event.
  #cache: Map<string, boolean> | undefined;
  #ips: Set<number> | undefined;
  #distinctCap: number;

  constructor(config: ProjectionConfig, now: number) {
    this.config = config;
    this.#matcher = compileRegex(config.events);
    this.#distinctCap = Math.max(DISTINCT_CAP, config.activation.ips, config.nursery.ips);
    this.mode = firstMode(config);
    this.since = now;
    this.lastMatchAt = now;
    this.book = new EvidenceBook(evidenceIdle(config));
    this.#windows(config, config);
  }

  /** (Re)creates the per-source windows a config asks for; kept while the window is the same. */
  #windows(config: ProjectionConfig, old: ProjectionConfig): void {
    const e = config.evidence;
    const b = config.bypass;
    if (e.events <= 1) this.evidence = undefined;
    else if (!this.evidence || old.evidence.window !== e.window) {
      this.evidence = new SourceWindow(e.window);
    }
    if (b.events === 0 || config.state !== "auto") this.bypass = undefined;
    else if (!this.bypass || old.bypass.window !== b.window) {
      this.bypass = new SourceWindow(b.window);
    }
  }

  /** Replaces the configuration, keeping mode, counters, watched IPs (the caller checks mode). */
  reconfigure(config: ProjectionConfig): void {
    if (config.events !== this.config.events) {
      this.#matcher = compileRegex(config.events);
      this.#cache?.clear();
    }
    this.#windows(config, this.config);
    this.book.idleSeconds = evidenceIdle(config);
    this.config = config;
    this.#distinctCap = Math.max(DISTINCT_CAP, config.activation.ips, config.nursery.ips);
  }

  /** True when the event name matches the projection's regex (cached per name). */
  matches(event: string): boolean {
    const cache = this.#cache ??= new Map();
    let hit = cache.get(event);
    if (hit === undefined) {
      hit = this.#matcher.test(event);
      if (cache.size >= MATCH_CACHE_MAX) cache.clear();
      cache.set(event, hit);
    }
    return hit;
  }

  /** Counts `n` matching events from `ip` in the current window. */
  count(ip: string, n: number, now: number): void {
    this.events += n;
    this.lastMatchAt = now;
    const ips = this.#ips ??= new Set();
    if (ips.size < this.#distinctCap) ips.add(fnv1a(ip)); // hashes, never addresses: the nursery keeps no IPs
  }

  /** Distinct IPs seen in the current window (exact up to the cap). */
  get ips(): number {
    return this.#ips?.size ?? 0;
  }

  /** True when the current window reached `t` (0 parts are not required). */
  reached(t: Threshold): boolean {
    return isSet(t) && (t.events === 0 || this.events >= t.events) &&
      (t.ips === 0 || (this.#ips?.size ?? 0) >= t.ips);
  }

  /** Closes the current window. */
  roll(): void {
    this.lastEvents = this.events;
    this.lastIps = this.#ips?.size ?? 0;
    this.events = 0;
    this.#ips?.clear();
  }

  /** Remembers `ip` with the events of one request, in watch mode. */
  watch(ip: string, event: string, multiple: boolean, worker: number, now: number): void {
    const entry = this.watched.get(ip);
    if (entry) {
      entry.lastSeen = now;
      entry.worker = worker;
      if (!entry.multiple && (multiple || event !== entry.event)) entry.multiple = true;
      return;
    }
    if (this.watched.size >= WATCH_MAX) return;
    this.watched.set(ip, { lastSeen: now, event, multiple, worker });
  }

  /** Drops watched IPs idle for watch_ttl. */
  dropIdle(now: number): void {
    const limit = now - this.config.watch_ttl * 1000;
    for (const [ip, entry] of this.watched) if (entry.lastSeen <= limit) this.watched.delete(ip);
  }

  /**
   * Switches mode, remembering why and the current window's counts; leaving watch forgets the
   * watched IPs.
   */
  setMode(mode: ProjectionMode, now: number, why: string): void {
    if (mode === this.mode) return;
    this.change = { at: now, from: this.mode, why, events: this.events, ips: this.ips };
    this.mode = mode;
    this.since = now;
    this.lastMatchAt = now;
    if (mode !== "watch") this.watched.clear();
  }
}
