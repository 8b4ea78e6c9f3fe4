import { elementKey } from "./nft_set.ts";

/** A command off the sensor's PUB, as enforcers (the bouncer, the proxy) use it. */
export interface BanOrder {
  method: "add" | "del";
  domainId: number;
  ruleName: string;
  /** The address or network as the sensor sent it. */
  ip: string;
  /** Ban lifetime in seconds (add; 3600 when the command has none). */
  timeout: number;
}

/**
 * The order in one parsed JSON command (SPEC §6): an object with `method` "add" or "del", an
 * address or network in `ip_addr`, `rule_name`, `domain_id`, and `timeout` on add. Undefined
 * when it is not one.
 */
export function readBanCommand(cmd: unknown): BanOrder | undefined {
  const c = (typeof cmd === "object" && cmd !== null ? cmd : {}) as Record<string, unknown>;
  const ip = c.ip_addr;
  if (
    typeof ip !== "string" || elementKey(ip) === undefined ||
    (c.method !== "add" && c.method !== "del")
  ) return undefined;
  return {
    method: c.method,
    domainId: typeof c.domain_id === "number" ? c.domain_id : Number(c.domain_id ?? 0) || 0,
    ruleName: String(c.rule_name ?? ""),
    ip,
    timeout: typeof c.timeout === "number" && c.timeout > 0 ? c.timeout : 3600,
  };
}
