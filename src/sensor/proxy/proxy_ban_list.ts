import { sourceOf } from "../../shared/net/ip.ts";
import { BanState, type BouncerBan } from "../bouncer/ban_state.ts";
import { fetchBans } from "../bouncer/fetch_bans.ts";
import { elementKey } from "../bouncer/nft_set.ts";
import { type BanOrder, readBanCommand } from "../bouncer/read_ban_command.ts";
import { SubSocket } from "../zmtp/mod.ts";

// The sensor bans an IPv6 client by the network it counts it in; these are the ones it uses.
const V6_PREFIXES = [128, 64, 56, 48] as const;

const decoder = new TextDecoder();

/** Options of {@linkcode ProxyBanList}. */
export interface ProxyBanListOptions {
  /** Enforce only bans of these rule names; empty = all. */
  rules?: readonly string[];
  /** Wall clock in ms. Default Date.now. */
  now?: () => number;
}

/**
 * The bans the proxy enforces: one per (domain, rule, IP) with its expiry, kept exactly as the
 * bouncer keeps them ({@linkcode BanState}), fed by the sensor's commands, in process or off a
 * remote sensor's PUB. An IP is banned while any of its bans (or its IPv6 network's) is
 * active, so a ban ends at its timeout with no `del` needed. `onBan` hears each `add` so open
 * connections of the IP can be closed.
 */
export class ProxyBanList {
  readonly #state = new BanState();
  readonly #rules: readonly string[];
  readonly #now: () => number;
  readonly #listeners: ((ip: string) => void)[] = [];
  #sub: SubSocket | undefined;
  #loop: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Commands applied, ignored (other rules) and not understood. */
  readonly stats = { applied: 0, ignored: 0, invalid: 0, resyncs: 0, resync_failures: 0 };

  constructor(options: ProxyBanListOptions = {}) {
    this.#rules = options.rules ?? [];
    this.#now = options.now ?? Date.now;
  }

  /** Calls `listener` with the address of every new ban. */
  onBan(listener: (ip: string) => void): void {
    this.#listeners.push(listener);
  }

  /** Bans held now (expired ones are dropped). */
  get size(): number {
    this.#state.prune(this.#now());
    return this.#state.size;
  }

  /** Applies one command (a parsed JSON object off the PUB, or a BanCommand in process). */
  apply(cmd: unknown): void {
    const order = readBanCommand(cmd);
    if (order === undefined) {
      this.stats.invalid++;
      return;
    }
    this.applyOrder(order);
  }

  /** Applies one {@linkcode BanOrder}. */
  applyOrder(order: BanOrder): void {
    if (this.#rules.length > 0 && !this.#rules.includes(order.ruleName)) {
      this.stats.ignored++;
      return;
    }
    this.stats.applied++;
    if (order.method === "del") {
      this.#state.delete(order.domainId, order.ruleName, order.ip);
      return;
    }
    this.#state.set({
      domainId: order.domainId,
      ruleName: order.ruleName,
      ip: order.ip,
      expiresAt: this.#now() + order.timeout * 1000,
    });
    for (const listener of this.#listeners) listener(order.ip);
  }

  /** Replaces every ban (a resync from the sensor's state); announces them all. */
  replace(bans: Iterable<BouncerBan>): void {
    const list = [...bans].filter((b) =>
      this.#rules.length === 0 || this.#rules.includes(b.ruleName)
    );
    this.#state.replace(list);
    for (const ban of list) for (const listener of this.#listeners) listener(ban.ip);
  }

  /** Whether `ip` (canonical text) is banned now, itself or by its IPv6 network. */
  banned(ip: string): boolean {
    if (this.#state.size === 0) return false;
    const now = this.#now();
    if (!ip.includes(":")) {
      const key = elementKey(ip);
      return key !== undefined && this.#state.element(key, now) !== undefined;
    }
    for (const prefix of V6_PREFIXES) {
      const key = elementKey(sourceOf(ip, prefix));
      if (key !== undefined && this.#state.element(key, now) !== undefined) return true;
    }
    return false;
  }

  /** Whether a ban of `pattern` (an address or network) covers `ip`. */
  static covers(pattern: string, ip: string): boolean {
    if (!pattern.includes("/")) return elementKey(pattern) === elementKey(ip);
    const len = Number(pattern.slice(pattern.indexOf("/") + 1));
    return elementKey(`${ip}/${len}`) === elementKey(pattern);
  }

  /**
   * Follows a remote sensor: subscribes to its command PUB (`tcp://host:port`) and, when `api`
   * is given, loads its active bans from `GET /bans` at start and every `resyncMs`, repairing
   * commands PUB dropped while we were not connected. Resolves when the first load ends: true
   * when it loaded (or there is no `api`), false when it failed (retried every `resyncMs`).
   */
  follow(endpoint: string, api = "", token = "", resyncMs = 60_000): Promise<boolean> {
    const sub = new SubSocket({ reconnectMax: 2000 });
    sub.subscribe("");
    sub.connect(endpoint);
    this.#sub = sub;
    this.#loop = (async () => {
      for await (const frames of sub) {
        try {
          this.apply(JSON.parse(decoder.decode(frames[frames.length - 1])));
        } catch {
          this.stats.invalid++;
        }
      }
    })();
    if (api === "") return Promise.resolve(true);
    const resync = async () => {
      let ok = false;
      try {
        this.replace(await fetchBans(api, { token, rules: this.#rules }));
        this.stats.resyncs++;
        ok = true;
      } catch {
        this.stats.resync_failures++;
      }
      if (this.#sub) this.#timer = setTimeout(resync, resyncMs);
      return ok;
    };
    return resync();
  }

  /** Stops following a remote sensor. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const sub = this.#sub;
    this.#sub = undefined;
    await sub?.close();
    await this.#loop;
  }
}
