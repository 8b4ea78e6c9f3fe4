import type { ConnIo } from "./conn_io.ts";
import { ProxyBanList } from "./proxy_ban_list.ts";

/**
 * The proxy's open client connections by client address: enforces the per-IP connection limit
 * and closes every connection of an address the moment it is banned (a ban must not wait for
 * a keep-alive or WebSocket client to reconnect). A trusted proxy's connection registered under
 * an address it forwards counts toward that address's limit but is never closed by its ban:
 * it carries other clients' requests too, and the banned one's next request gets the refusal.
 */
export class ClientRegistry {
  /** Per address: its connections, each with whether a ban of the address may close it. */
  readonly #byIp = new Map<string, Map<ConnIo, boolean>>();
  readonly #max: number;
  /** Connections refused over the per-IP limit, and closed by a new ban. */
  readonly stats = { over_limit: 0, closed_by_ban: 0 };

  /** `maxPerIp`: open connections one address may hold (0 = no limit). */
  constructor(maxPerIp: number) {
    this.#max = maxPerIp;
  }

  /** Connections open now. */
  get open(): number {
    let n = 0;
    for (const set of this.#byIp.values()) {
      for (const closable of set.values()) if (closable) n++;
    }
    return n;
  }

  /**
   * Registers `io` under `ip`; false (and nothing registered) when `ip` already holds the
   * limit. The connection leaves the registry when it closes or moves to another address.
   * `forwarded`: `ip` came from a trusted proxy's header, so its ban leaves `io` open.
   */
  admit(ip: string, io: ConnIo, forwarded = false): boolean {
    let set = this.#byIp.get(ip);
    if (set?.has(io)) return true;
    if (this.#max > 0 && set !== undefined && set.size >= this.#max) {
      this.stats.over_limit++;
      return false;
    }
    if (!set) {
      set = new Map();
      this.#byIp.set(ip, set);
    }
    set.set(io, !forwarded);
    return true;
  }

  /** Forgets `io` under `ip`. */
  release(ip: string, io: ConnIo): void {
    const set = this.#byIp.get(ip);
    if (!set?.delete(io)) return;
    if (set.size === 0) this.#byIp.delete(ip);
  }

  /** Closes every open connection (shutdown). */
  closeAll(): void {
    for (const set of [...this.#byIp.values()]) for (const io of [...set.keys()]) io.close();
  }

  /** Closes every connection of the address or network `pattern`; returns how many. */
  closeBanned(pattern: string): number {
    let n = 0;
    const exact = this.#byIp.get(pattern);
    const sets = exact && !pattern.includes("/")
      ? [exact]
      : [...this.#byIp].filter(([ip]) => ProxyBanList.covers(pattern, ip)).map(([, s]) => s);
    for (const set of sets) {
      for (const [io, closable] of [...set]) {
        if (!closable) continue;
        io.close();
        n++;
      }
    }
    this.stats.closed_by_ban += n;
    return n;
  }
}
