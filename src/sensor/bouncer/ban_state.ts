import { elementKey } from "./nft_set.ts";

/** One ban the bouncer holds: the sensor's (domain, rule, IP) with its expiry (ms, wall clock). */
export interface BouncerBan {
  domainId: number;
  ruleName: string;
  /** The address or network as the sensor sent it. */
  ip: string;
  expiresAt: number;
}

/** What one nft element should be: the text to write and when its last ban ends (ms). */
export interface WantedElement {
  ip: string;
  expiresAt: number;
}

function banKey(domainId: number, ruleName: string, element: string): string {
  return `${domainId}\u0000${ruleName}\u0000${element}`;
}

/**
 * The bouncer's bans, one per (domain_id, rule_name, IP) as the sensor's commands and
 * `GET /bans` state them, and the nft element each IP should have: present while any of its
 * bans is active, expiring with the latest of them. Streamed commands and a resync both change
 * this table, and nft is always written from {@linkcode BanState.element}, so the two paths
 * cannot disagree: a `del` of one rule leaves the IP banned for as long as another rule says.
 *
 * @example
 * ```ts
 * const state = new BanState();
 * state.set({ domainId: 1, ruleName: "tsng.fixed", ip: "192.0.2.1", expiresAt: 86_400_000 });
 * state.set({ domainId: 1, ruleName: "tsng.rate", ip: "192.0.2.1", expiresAt: 3_600_000 });
 * state.delete(1, "tsng.fixed", "192.0.2.1");
 * state.element("4:c0000201", 0); // { ip: "192.0.2.1", expiresAt: 3_600_000 }
 * ```
 */
export class BanState {
  /** Bans by element key, then by (domain, rule, element). */
  readonly #byElement = new Map<string, Map<string, BouncerBan>>();
  #size = 0;

  /** Bans held (expired ones included until {@linkcode BanState.prune}). */
  get size(): number {
    return this.#size;
  }

  /** Elements with at least one ban held. */
  get elements(): number {
    return this.#byElement.size;
  }

  /**
   * Adds or replaces the ban of (domain, rule, IP): a repeated `add` gives it the new expiry.
   * Returns the element key, or undefined when `ip` is not an address or network.
   */
  set(ban: BouncerBan): string | undefined {
    const element = elementKey(ban.ip);
    if (element === undefined) return undefined;
    let bans = this.#byElement.get(element);
    if (!bans) {
      bans = new Map();
      this.#byElement.set(element, bans);
    }
    const key = banKey(ban.domainId, ban.ruleName, element);
    if (!bans.has(key)) this.#size++;
    bans.set(key, { ...ban });
    return element;
  }

  /** Forgets the ban of (domain, rule, IP); returns the element key (undefined: not an IP). */
  delete(domainId: number, ruleName: string, ip: string): string | undefined {
    const element = elementKey(ip);
    if (element === undefined) return undefined;
    const bans = this.#byElement.get(element);
    if (bans?.delete(banKey(domainId, ruleName, element))) {
      this.#size--;
      if (bans.size === 0) this.#byElement.delete(element);
    }
    return element;
  }

  /** Replaces every ban with `bans` (a resync). */
  replace(bans: Iterable<BouncerBan>): void {
    this.#byElement.clear();
    this.#size = 0;
    for (const ban of bans) this.set(ban);
  }

  /**
   * The element `element` (a key from {@linkcode BanState.set}) should be at `now`: the latest
   * expiry of its active bans, or undefined when none is active. Drops its expired bans.
   */
  element(element: string, now: number): WantedElement | undefined {
    const bans = this.#byElement.get(element);
    if (!bans) return undefined;
    let wanted: WantedElement | undefined;
    for (const [key, ban] of bans) {
      if (ban.expiresAt <= now) {
        bans.delete(key);
        this.#size--;
      } else if (!wanted || ban.expiresAt > wanted.expiresAt) {
        wanted = { ip: ban.ip, expiresAt: ban.expiresAt };
      }
    }
    if (bans.size === 0) this.#byElement.delete(element);
    return wanted;
  }

  /** Every element that should exist at `now`, by element key; drops expired bans. */
  wanted(now: number): Map<string, WantedElement> {
    const out = new Map<string, WantedElement>();
    for (const element of [...this.#byElement.keys()]) {
      const wanted = this.element(element, now);
      if (wanted) out.set(element, wanted);
    }
    return out;
  }

  /** Drops the bans that have expired at `now`. */
  prune(now: number): void {
    this.wanted(now);
  }

  /** The active bans at `now`, for logs and tests. */
  list(now: number): BouncerBan[] {
    const out: BouncerBan[] = [];
    for (const bans of this.#byElement.values()) {
      for (const ban of bans.values()) if (ban.expiresAt > now) out.push({ ...ban });
    }
    return out;
  }
}
