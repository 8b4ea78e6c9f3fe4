import { ipKey } from "../../shared/net/ip.ts";

/**
 * A DNS lookup with a deadline, as filters receive it (`FilterDeps.resolveDns`): answers
 * lowercase without the trailing dot; [] when the name has no such record; rejects on timeout
 * or resolver error.
 */
export type ResolveDns = (
  name: string,
  type: "PTR" | "A" | "AAAA",
  timeoutMs: number,
) => Promise<string[]>;

/** Options of {@linkcode dnsResolver}. */
export interface DnsResolverOptions {
  /** The server to ask; absent = the system's (/etc/resolv.conf), which needs net permission. */
  nameServer?: { ipAddr: string; port?: number };
}

/**
 * The resolver service the pipeline injects into filters, on Deno.resolveDns. A PTR query takes
 * the reverse name (`4.3.2.1.in-addr.arpa`, nibbles under `ip6.arpa`), never an address: Deno
 * sends the query text as it is, so an address would silently find nothing, and is refused.
 *
 * Deno reports "no such record" as `Deno.errors.NotFound`, mapped to []. It reports SERVFAIL,
 * REFUSED, FORMERR and NOTIMP answers the same way (hickory folds them into "no records
 * found"), so they cannot be told apart here and also resolve []. Timeouts (an AbortSignal of
 * `timeoutMs`), missing net permission for the name server (`NotCapable`) and other errors
 * reject.
 */
export function dnsResolver(options: DnsResolverOptions = {}): ResolveDns {
  const nameServer = options.nameServer;
  return async function resolveDns(name, type, timeoutMs) {
    if (type === "PTR" && ipKey(name) !== undefined) {
      throw new TypeError(
        `DNS PTR query for the address "${name}": pass its in-addr.arpa or ip6.arpa name`,
      );
    }
    const signal = AbortSignal.timeout(timeoutMs);
    let answers: string[];
    try {
      answers = await Deno.resolveDns(
        name,
        type,
        nameServer === undefined ? { signal } : { nameServer, signal },
      );
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return [];
      throw error;
    }
    return answers.map((answer) => {
      const lower = answer.toLowerCase();
      return lower.endsWith(".") ? lower.slice(0, -1) : lower;
    });
  };
}
