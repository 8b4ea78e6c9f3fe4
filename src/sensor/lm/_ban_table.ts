import type { BanEvidence } from "./_evidence.ts";

/** One active ban as the list manager keeps it. */
export interface ActiveBan {
  ip: string;
  rule_name: string;
  comment: string;
  added_at: number;
  expires_at: number;
  /** `wrk_<n>` of the worker that added it; reused on its `del`. */
  worker: string;
  /** Projections wanting this ban; the first one added it. Never empty. */
  claimants: string[];
  /** What made the source banned (absent for bans restored from an older state file). */
  evidence?: BanEvidence;
  /** Decided by a projection in simulation: never published, no `del` either. */
  simulated?: boolean;
}

/**
 * A domain's active bans by rule_name then IP: one ban per (rule_name, IP), lookups without
 * building a key string per event, and the per-rule size that `lists[].max_entries` caps.
 */
export class BanTable {
  readonly #rules = new Map<string, Map<string, ActiveBan>>();

  /** The ban of `ip` in `ruleName`, expired or not. */
  get(ruleName: string, ip: string): ActiveBan | undefined {
    return this.#rules.get(ruleName)?.get(ip);
  }

  /** Stores a ban, replacing the one of the same (rule_name, IP). */
  set(ban: ActiveBan): void {
    let rule = this.#rules.get(ban.rule_name);
    if (!rule) {
      rule = new Map();
      this.#rules.set(ban.rule_name, rule);
    }
    rule.set(ban.ip, ban);
  }

  /** Removes a ban. */
  delete(ban: ActiveBan): void {
    const rule = this.#rules.get(ban.rule_name);
    if (!rule) return;
    rule.delete(ban.ip);
    if (rule.size === 0) this.#rules.delete(ban.rule_name);
  }

  /** Bans held in `ruleName`, expired ones not swept yet included. */
  size(ruleName: string): number {
    return this.#rules.get(ruleName)?.size ?? 0;
  }

  /** Drops expired bans (of one rule, or all); no command: the firewall expires them itself. */
  sweep(now: number, ruleName?: string): void {
    const rules = ruleName === undefined ? [...this.#rules.values()] : [this.#rules.get(ruleName)];
    for (const rule of rules) {
      if (!rule) continue;
      for (const ban of rule.values()) if (ban.expires_at <= now) this.delete(ban);
    }
  }

  /** Every ban, in insertion order within each rule. */
  *values(): IterableIterator<ActiveBan> {
    for (const rule of this.#rules.values()) yield* rule.values();
  }

  /** The bans of one IP across rules. */
  ofIp(ip: string): ActiveBan[] {
    const out: ActiveBan[] = [];
    for (const rule of this.#rules.values()) {
      const ban = rule.get(ip);
      if (ban) out.push(ban);
    }
    return out;
  }
}
