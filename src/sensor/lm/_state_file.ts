import type { ActiveBan } from "./_ban_table.ts";
import { type Domain, newDomain } from "./_domain.ts";
import type { BanEvidence } from "./_evidence.ts";
import { isValidMode, type ProjectionMode, type ProjectionState } from "./_projection.ts";

const MODES: readonly string[] = ["nursery", "watch", "block", "disabled"];

/** One active ban as persisted (the list manager's own record of it). */
export type SavedBan = ActiveBan;

/** A watched IP on disk: `[ip, last_seen, event, multiple (0/1), worker]`. */
export type WatchTuple = [string, number, string, number, number];

/** One projection's mode as persisted; a projection in watch mode keeps its watched IPs. */
export interface SavedMode {
  mode: string;
  since: number;
  last_match_at: number;
  watched?: WatchTuple[];
}

/**
 * A ban on disk: `[ip, rule_name, comment, added_at, expires_at, worker, ...claimants]`. Tuples
 * keep a file of 100k bans small and quick to write during an attack.
 */
export type BanTuple = [string, string, string, number, number, string, ...string[]];

/** The whole state file. */
export interface SavedState {
  version: 1;
  saved_at: number;
  /**
   * Generation of the journal that continues this snapshot (`lm-journal.jsonl` starts with the
   * same id); a journal of another generation is older than the snapshot and is not replayed.
   */
  journal?: string;
  domains: Record<string, SavedDomain<BanTuple>>;
}

/** One domain on disk; `offenders` are `[rule_name\nsource, bans, last ban ms]` (since 0.2). */
export interface SavedDomain<B> {
  bans: B[];
  modes: Record<string, SavedMode>;
  offenders?: OffenderTuple[];
  /** Per ban (`rule_name\nip`): its evidence, and whether it was only simulated. */
  extras?: Record<string, BanExtras>;
}

/** What a ban carries besides its tuple. */
export interface BanExtras {
  simulated?: boolean;
  evidence?: BanEvidence;
}

/** A repeat offender on disk: `[rule_name\nsource, bans, last ban ms]`. */
export type OffenderTuple = [string, number, number];

/** The state as parsed back, bans as objects. */
export interface LoadedState {
  saved_at: number;
  journal?: string;
  domains: Record<string, SavedDomain<SavedBan>>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): v is string {
  return typeof v === "string";
}

function num(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/** A ban's tuple on disk (state file and journal). */
export function banTuple(b: ActiveBan): BanTuple {
  return [b.ip, b.rule_name, b.comment, b.added_at, b.expires_at, b.worker, ...b.claimants];
}

/** What a ban carries besides its tuple, or undefined when nothing. */
export function banExtras(b: ActiveBan): BanExtras | undefined {
  if (!b.evidence && !b.simulated) return undefined;
  return {
    ...(b.simulated ? { simulated: true } : {}),
    ...(b.evidence ? { evidence: b.evidence } : {}),
  };
}

/** A ban tuple read back, or undefined when malformed. */
export function parseBanTuple(b: unknown): SavedBan | undefined {
  if (!Array.isArray(b) || b.length < 7) return undefined;
  const [ip, rule_name, comment, added_at, expires_at, worker, ...claimants] = b as unknown[];
  if (
    !str(ip) || !str(rule_name) || !str(comment) || !num(added_at) || !num(expires_at) ||
    !str(worker) || !claimants.every(str)
  ) return undefined;
  return { ip, rule_name, comment, added_at, expires_at, worker, claimants };
}

/** The active ban a saved ban and its extras stand for. */
export function restoredBan(b: SavedBan, extra: unknown): ActiveBan {
  const x = isRecord(extra) ? extra : undefined;
  return {
    ip: b.ip,
    rule_name: b.rule_name,
    comment: b.comment,
    added_at: b.added_at,
    expires_at: b.expires_at,
    worker: b.worker,
    claimants: b.claimants,
    ...(x?.simulated === true ? { simulated: true } : {}),
    ...(isRecord(x?.evidence) ? { evidence: x.evidence as unknown as BanEvidence } : {}),
  };
}

/** A saved mode read back, or undefined when malformed. */
export function parseMode(m: unknown): SavedMode | undefined {
  if (!isRecord(m) || !str(m.mode) || !num(m.since) || !num(m.last_match_at)) return undefined;
  const watched = (Array.isArray(m.watched) ? m.watched as unknown[] : []).filter(
    (w): w is WatchTuple =>
      Array.isArray(w) && w.length === 5 && str(w[0]) && num(w[1]) && str(w[2]) &&
      num(w[3]) && num(w[4]),
  );
  return {
    mode: m.mode,
    since: m.since,
    last_match_at: m.last_match_at,
    ...(watched.length > 0 ? { watched } : {}),
  };
}

/** The saved mode of a projection now. */
export function savedMode(p: ProjectionState): SavedMode {
  const saved: SavedMode = { mode: p.mode, since: p.since, last_match_at: p.lastMatchAt };
  if (p.mode === "watch" && p.watched.size > 0) {
    saved.watched = [...p.watched].map(([ip, w]) => [
      ip,
      w.lastSeen,
      w.event,
      w.multiple ? 1 : 0,
      w.worker,
    ]);
  }
  return saved;
}

/** Parses a state file, skipping malformed entries; throws SyntaxError on a malformed whole. */
export function parseState(text: string, path: string): LoadedState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(`Cannot parse lm state file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!isRecord(raw) || raw.version !== 1 || !isRecord(raw.domains)) {
    throw new SyntaxError(`Cannot parse lm state file ${path}: not a version 1 state object`);
  }
  const state: LoadedState = {
    saved_at: num(raw.saved_at) ? raw.saved_at : 0,
    ...(str(raw.journal) ? { journal: raw.journal } : {}),
    domains: {},
  };
  for (const [id, d] of Object.entries(raw.domains)) {
    if (!/^\d{1,10}$/.test(id) || !isRecord(d)) continue;
    const bans: SavedBan[] = [];
    for (const b of Array.isArray(d.bans) ? d.bans as unknown[] : []) {
      const ban = parseBanTuple(b);
      if (ban) bans.push(ban);
    }
    const modes: Record<string, SavedMode> = {};
    if (isRecord(d.modes)) {
      for (const [name, m] of Object.entries(d.modes)) {
        const mode = parseMode(m);
        if (mode) modes[name] = mode;
      }
    }
    const offenders = (Array.isArray(d.offenders) ? d.offenders as unknown[] : []).filter(
      (o): o is OffenderTuple =>
        Array.isArray(o) && o.length === 3 && str(o[0]) && num(o[1]) && num(o[2]),
    );
    // Extras are advisory (evidence for people): kept when they are objects, not checked deeper.
    const extras = isRecord(d.extras) ? d.extras as Record<string, BanExtras> : undefined;
    state.domains[id] = {
      bans,
      modes,
      ...(offenders.length > 0 ? { offenders } : {}),
      ...(extras ? { extras } : {}),
    };
  }
  return state;
}

/** The state file's content for these domains at `now`: active bans, modes, watched IPs. */
export function snapshotState(
  domains: Iterable<Domain>,
  now: number,
  journal?: string,
): SavedState {
  const state: SavedState = {
    version: 1,
    saved_at: now,
    ...(journal !== undefined ? { journal } : {}),
    domains: {},
  };
  for (const d of domains) {
    const bans: BanTuple[] = [];
    const extras: Record<string, BanExtras> = {};
    for (const b of d.bans.values()) {
      if (b.expires_at <= now) continue;
      const extra = banExtras(b);
      if (extra) extras[`${b.rule_name}\n${b.ip}`] = extra;
      bans.push(banTuple(b));
    }
    const modes: Record<string, SavedMode> = { ...d.pendingModes };
    for (const p of d.projections) modes[p.config.name] = savedMode(p);
    const offenders: OffenderTuple[] = [];
    for (const [key, o] of d.offenders) offenders.push([key, o.bans, o.last]);
    state.domains[String(d.id)] = {
      bans,
      modes,
      ...(offenders.length > 0 ? { offenders } : {}),
      ...(Object.keys(extras).length > 0 ? { extras } : {}),
    };
  }
  return state;
}

/** A restored mode applies only to an auto projection that can be in it under its config. */
export function applySaved(p: ProjectionState, saved: SavedMode): void {
  if (p.config.state !== "auto" || !MODES.includes(saved.mode)) return;
  const mode = saved.mode as ProjectionMode;
  if (!isValidMode(p.config, mode)) return;
  p.mode = mode;
  p.since = saved.since;
  p.lastMatchAt = saved.last_match_at;
  // A restart during an attack must not forget who was watched: they are banned at activation.
  if (mode === "watch") {
    for (const [ip, lastSeen, event, multiple, worker] of saved.watched ?? []) {
      p.watched.set(ip, { lastSeen, event, multiple: multiple === 1, worker });
    }
  }
}

/**
 * Puts saved bans and modes into `domains` without sending anything; expired bans are dropped,
 * modes of projections not configured yet wait in `pendingModes`. Returns the bans restored.
 */
export function restoreState(
  domains: Map<number, Domain>,
  state: LoadedState,
  now: number,
): number {
  let restored = 0;
  for (const [id, saved] of Object.entries(state.domains)) {
    const domainId = Number(id);
    let d = domains.get(domainId);
    if (!d) {
      d = newDomain(domainId);
      domains.set(domainId, d);
    }
    for (const b of saved.bans) {
      if (b.expires_at <= now) continue;
      const known = d.bans.get(b.rule_name, b.ip);
      if (known !== undefined && known.expires_at > now) continue;
      d.bans.set(restoredBan(b, saved.extras?.[`${b.rule_name}\n${b.ip}`]));
      restored++;
    }
    if (d.projections.length === 0) {
      d.pendingModes = saved.modes;
    } else {
      for (const p of d.projections) {
        const m = saved.modes[p.config.name];
        if (m) applySaved(p, m);
      }
    }
    // Oldest last ban first, so the Map keeps last-ban order for the sweep.
    const offenders = [...saved.offenders ?? []].sort((a, b) => a[2] - b[2]);
    for (const [key, bans, last] of offenders) {
      if (!d.offenders.has(key)) d.offenders.set(key, { bans, last });
    }
  }
  return restored;
}
