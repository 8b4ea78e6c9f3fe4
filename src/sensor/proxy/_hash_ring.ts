import { fnv1a } from "../../shared/hash/fnv1a.ts";
import { mix32 } from "../../shared/hash/mix32.ts";

/** Ring points per unit of weight, as nginx's `hash … consistent` (ketama) places them. */
export const POINTS_PER_WEIGHT = 160;

/** The ring position of a key: FNV-1a, mixed so that neighbouring keys land far apart. */
export function ringHash(key: string): number {
  return mix32(fnv1a(key));
}

/**
 * A consistent-hash ring: each member owns `weight × 160` points placed by hashing its key (its
 * address), so a member's points do not depend on the others. Removing a member (or skipping it
 * while down) hands only its own arcs to the next points clockwise; every other key keeps its
 * owner.
 */
export class HashRing {
  readonly #points: Uint32Array;
  readonly #owners: Int32Array;
  readonly #members: number;
  // Members already offered during one walk, stamped with the walk's number (no per-walk alloc).
  readonly #seen: Uint32Array;
  #walk = 0;

  constructor(members: readonly { key: string; weight: number }[]) {
    const points: { hash: number; owner: number }[] = [];
    members.forEach((m, owner) => {
      for (let i = 0; i < m.weight * POINTS_PER_WEIGHT; i++) {
        points.push({ hash: ringHash(`${m.key}#${i}`), owner });
      }
    });
    // Equal hashes are ordered by key, so a point's owner never depends on the members' order.
    points.sort((a, b) =>
      a.hash - b.hash || (members[a.owner]!.key < members[b.owner]!.key ? -1 : 1)
    );
    this.#points = Uint32Array.from(points, (p) => p.hash);
    this.#owners = Int32Array.from(points, (p) => p.owner);
    this.#members = members.length;
    this.#seen = new Uint32Array(members.length);
  }

  #restamp(): number {
    this.#seen.fill(0);
    return 1;
  }

  /**
   * The first member clockwise from `hash` that `accept` takes, offering each member once;
   * -1 when none does.
   */
  find(hash: number, accept: (member: number) => boolean): number {
    const points = this.#points;
    const n = points.length;
    if (n === 0) return -1;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    const walk = this.#walk = (this.#walk + 1) >>> 0 || this.#restamp();
    let offered = 0;
    for (let step = 0; step < n; step++) {
      const owner = this.#owners[(lo + step) % n]!;
      if (this.#seen[owner] === walk) continue;
      this.#seen[owner] = walk;
      if (accept(owner)) return owner;
      if (++offered === this.#members) return -1;
    }
    return -1;
  }
}
