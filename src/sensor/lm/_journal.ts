import type { WritableFile, WriteFs } from "../../shared/config/write_file_atomic.ts";
import { type Domain, newDomain } from "./_domain.ts";
import {
  applySaved,
  type BanExtras,
  type BanTuple,
  parseBanTuple,
  parseMode,
  restoredBan,
  type SavedMode,
} from "./_state_file.ts";

/** The file operations of the state file and the journal; the `Deno` namespace is one. */
export interface LmFs extends WriteFs {
  readTextFile(path: string): Promise<string>;
}

/**
 * One ban change, one JSON line of `lm-journal.jsonl`. Each states the new value of what it
 * changes (a ban, an offender, a mode), never a delta, so replaying a line twice is harmless.
 */
export type JournalEntry =
  /** A ban added or changed (claimants): the whole ban, with its evidence and simulated flag. */
  | { o: "ban"; d: number; b: BanTuple; x?: BanExtras }
  /** A ban lifted (`del`, unban, orphan, simulation left). */
  | { o: "del"; d: number; r: string; i: string }
  /** A repeat offender's count after a ban: key `rule_name\nsource`. */
  | { o: "off"; d: number; k: string; n: number; l: number }
  /** A projection's mode after a transition. */
  | { o: "mode"; d: number; p: string; m: SavedMode }
  /** A domain removed. */
  | { o: "rm"; d: number };

const encoder = new TextEncoder();

/**
 * The append-only journal of ban changes: lines are written and fsynced a batch at a time
 * (before the batch's commands are published), and the journal is emptied each time the state
 * file is rewritten. Its first line names its generation, `{"journal":"<id>"}`, which the
 * snapshot it continues also names.
 */
export class Journal {
  readonly path: string;
  readonly #fs: LmFs;
  #file: WritableFile | undefined;
  /** Bytes in the journal now (what compaction is measured by). */
  bytes = 0;

  constructor(path: string, fs: LmFs) {
    this.path = path;
    this.#fs = fs;
  }

  async #open(): Promise<WritableFile> {
    this.#file ??= await this.#fs.open(this.path, {
      write: true,
      create: true,
      append: true,
      mode: 0o600,
    });
    return this.#file;
  }

  /** Appends `text` (whole lines) and fsyncs. A partial write is cleared by the next reset. */
  async append(text: string): Promise<void> {
    const file = await this.#open();
    const data = encoder.encode(text);
    let written = 0;
    while (written < data.length) written += await file.write(data.subarray(written));
    await file.sync();
    this.bytes += data.length;
  }

  /** Empties the journal and starts generation `gen` (its header line, fsynced). */
  async reset(gen: string): Promise<void> {
    const file = await this.#open();
    this.bytes = Number.NaN; // unknown until the header is down
    await file.truncate(0);
    const header = encoder.encode(`${JSON.stringify({ journal: gen })}\n`);
    let written = 0;
    while (written < header.length) written += await file.write(header.subarray(written));
    await file.sync();
    this.bytes = header.length;
  }

  /** Closes the file (reopened by the next write). */
  close(): void {
    try {
      this.#file?.close();
    } catch {
      // Already closed.
    }
    this.#file = undefined;
  }
}

/** A journal as read back. */
export interface LoadedJournal {
  /** Its generation, undefined when the header is missing or unreadable. */
  gen: string | undefined;
  entries: JournalEntry[];
  /** Lines that did not parse (a torn last line after a crash) and were skipped. */
  skipped: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isEntry(v: unknown): v is JournalEntry {
  if (!isRecord(v) || typeof v.d !== "number" || !Number.isInteger(v.d)) return false;
  switch (v.o) {
    case "ban":
      return Array.isArray(v.b);
    case "del":
      return typeof v.r === "string" && typeof v.i === "string";
    case "off":
      return typeof v.k === "string" && typeof v.n === "number" && typeof v.l === "number";
    case "mode":
      return typeof v.p === "string";
    case "rm":
      return true;
    default:
      return false;
  }
}

/** Reads a journal; a missing file is an empty journal. Unparseable lines are skipped. */
export async function readJournal(path: string, fs: LmFs): Promise<LoadedJournal> {
  let text: string;
  try {
    text = await fs.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { gen: undefined, entries: [], skipped: 0 };
    throw error;
  }
  const out: LoadedJournal = { gen: undefined, entries: [], skipped: 0 };
  let first = true;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      out.skipped++;
      first = false;
      continue;
    }
    if (first && isRecord(value) && typeof value.journal === "string") out.gen = value.journal;
    else if (isEntry(value)) out.entries.push(value);
    else out.skipped++;
    first = false;
  }
  return out;
}

function domainOf(domains: Map<number, Domain>, id: number): Domain {
  let d = domains.get(id);
  if (!d) {
    d = newDomain(id);
    domains.set(id, d);
  }
  return d;
}

/**
 * Replays journal entries over restored state, in order, sending nothing: bans already expired
 * at `now` are dropped. Returns how many entries applied.
 */
export function applyJournal(
  domains: Map<number, Domain>,
  entries: readonly JournalEntry[],
  now: number,
): number {
  let applied = 0;
  for (const e of entries) {
    switch (e.o) {
      case "ban": {
        const saved = parseBanTuple(e.b);
        if (!saved) continue;
        const d = domainOf(domains, e.d);
        const known = d.bans.get(saved.rule_name, saved.ip);
        if (saved.expires_at <= now) {
          if (known) d.bans.delete(known);
        } else {
          d.bans.set(restoredBan(saved, e.x));
        }
        break;
      }
      case "del": {
        const d = domains.get(e.d);
        const known = d?.bans.get(e.r, e.i);
        if (known) d!.bans.delete(known);
        break;
      }
      case "off": {
        const d = domainOf(domains, e.d);
        d.offenders.delete(e.k); // re-inserted last: the order is last-ban order
        d.offenders.set(e.k, { bans: e.n, last: e.l });
        break;
      }
      case "mode": {
        const mode = parseMode(e.m);
        if (!mode) continue;
        const d = domainOf(domains, e.d);
        const p = d.byName.get(e.p);
        if (p) applySaved(p, mode);
        else (d.pendingModes ??= {})[e.p] = mode;
        break;
      }
      case "rm":
        domains.delete(e.d);
        break;
    }
    applied++;
  }
  return applied;
}
