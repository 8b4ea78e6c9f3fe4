import type { ActiveBan } from "./_ban_table.ts";

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
  domains: Record<string, { bans: BanTuple[]; modes: Record<string, SavedMode> }>;
}

/** The state as parsed back, bans as objects. */
export interface LoadedState {
  saved_at: number;
  domains: Record<string, { bans: SavedBan[]; modes: Record<string, SavedMode> }>;
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
  const state: LoadedState = { saved_at: num(raw.saved_at) ? raw.saved_at : 0, domains: {} };
  for (const [id, d] of Object.entries(raw.domains)) {
    if (!/^\d{1,10}$/.test(id) || !isRecord(d)) continue;
    const bans: SavedBan[] = [];
    for (const b of Array.isArray(d.bans) ? d.bans as unknown[] : []) {
      if (!Array.isArray(b) || b.length < 7) continue;
      const [ip, rule_name, comment, added_at, expires_at, worker, ...claimants] = b as unknown[];
      if (
        !str(ip) || !str(rule_name) || !str(comment) || !num(added_at) || !num(expires_at) ||
        !str(worker) || !claimants.every(str)
      ) continue;
      bans.push({ ip, rule_name, comment, added_at, expires_at, worker, claimants });
    }
    const modes: Record<string, SavedMode> = {};
    if (isRecord(d.modes)) {
      for (const [name, m] of Object.entries(d.modes)) {
        if (!isRecord(m) || !str(m.mode) || !num(m.since) || !num(m.last_match_at)) continue;
        const watched = (Array.isArray(m.watched) ? m.watched as unknown[] : []).filter(
          (w): w is WatchTuple =>
            Array.isArray(w) && w.length === 5 && str(w[0]) && num(w[1]) && str(w[2]) &&
            num(w[3]) && num(w[4]),
        );
        modes[name] = {
          mode: m.mode,
          since: m.since,
          last_match_at: m.last_match_at,
          ...(watched.length > 0 ? { watched } : {}),
        };
      }
    }
    state.domains[id] = { bans, modes };
  }
  return state;
}
