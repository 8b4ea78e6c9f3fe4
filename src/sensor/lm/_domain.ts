import { OrderedMap } from "../../shared/cache/ordered_map.ts";
import { BanTable } from "./_ban_table.ts";
import type { ProjectionState } from "./_projection.ts";
import type { SavedMode } from "./_state_file.ts";

/** One domain's list-manager state: its projections in order, its active bans, its list caps. */
export interface Domain {
  readonly id: number;
  projections: ProjectionState[];
  byName: Map<string, ProjectionState>;
  /** One command per (rule_name, IP) while active. */
  readonly bans: BanTable;
  /** `lists[].max_entries` by list (= rule_name): adds beyond are refused. */
  caps: Map<string, number>;
  /**
   * Repeat offenders by `rule_name\nsource`: bans so far and when the last one was added (ms),
   * for escalating ban times; forgotten `escalation.forget` seconds after the last ban. Kept in
   * last-ban order (a ban re-inserts its key), so the sweep and the size cap take the front.
   */
  readonly offenders: OrderedMap<string, Offender>;
  /** The domain's `qpc` component: `worker` prefix and `broadcast` of its commands. */
  qpc?: { worker: string; broadcast: boolean };
  /** Modes restored from the state file for projections not configured yet. */
  pendingModes?: Record<string, SavedMode>;
}

/** How often a source was banned under one rule, and when last. */
export interface Offender {
  bans: number;
  last: number;
}

/** An empty domain (no projections until configured). */
export function newDomain(id: number): Domain {
  return {
    id,
    projections: [],
    byName: new Map(),
    bans: new BanTable(),
    caps: new Map(),
    offenders: new OrderedMap(),
  };
}
