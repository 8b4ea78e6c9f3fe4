/**
 * One outbound firewall command (seed §3.4.2, SPEC §6). `timeout` is present on `add` only;
 * `broadcast` is the domain's `qpc.broadcast` (false unless an operator sets it).
 */
export interface BanCommand {
  domain_id: number;
  /** The event name, or `_multiple_` when two or more distinct events led to the command. */
  comment: string;
  /** Firewall list the IP is added to or removed from. */
  rule_name: string;
  method: "add" | "del";
  ip_addr: string;
  /** ISO country code of ip_addr, `""` when unknown. */
  geo: string;
  /** Unix time in seconds with millisecond precision. */
  timestamp: number;
  /** Ban lifetime in seconds; `add` only. */
  timeout?: number;
  /** `wrk_<n>` of the worker that decided. */
  worker: string;
  broadcast: boolean;
  /** Host name of the sensor. */
  hoplite: string;
}

/** The keys of a command in the seed's order (§3.4.2); `timeout` is present on `add` only. */
export const COMMAND_KEYS = [
  "domain_id",
  "comment",
  "rule_name",
  "method",
  "ip_addr",
  "geo",
  "timestamp",
  "timeout",
  "worker",
  "broadcast",
  "hoplite",
] as const;

/** The comment of a command that stems from two or more distinct events (seed §3.4.2). */
export const MULTIPLE = "_multiple_";

function formatTimestamp(seconds: number): string {
  const ms = Math.round(seconds * 1000) / 1000;
  // A float on the wire even on a whole second, as the seed's Python producer prints it.
  return Number.isInteger(ms) ? `${ms}.0` : String(ms);
}

/**
 * The JSON text of a command with the seed's key order (domain_id, comment, rule_name, method,
 * ip_addr, geo, timestamp, timeout on add only, worker, broadcast, hoplite). Bouncers written
 * against the original sensor compare raw text in places, so the order is part of the contract.
 *
 * @example
 * ```ts
 * formatCommand({ domain_id: 8984, comment: "loc_rate_def1_GET/", rule_name: "tsng.location_rate",
 *   method: "add", ip_addr: "1.2.3.4", geo: "US", timestamp: 1669808971.274, timeout: 5183,
 *   worker: "wrk_1", broadcast: false, hoplite: "1c30c1ea0869" });
 * ```
 */
export function formatCommand(cmd: BanCommand): string {
  const timeout = cmd.method === "add" && cmd.timeout !== undefined
    ? `,"timeout":${Math.trunc(cmd.timeout)}`
    : "";
  return `{"domain_id":${Math.trunc(cmd.domain_id)},"comment":${JSON.stringify(cmd.comment)}` +
    `,"rule_name":${JSON.stringify(cmd.rule_name)},"method":${JSON.stringify(cmd.method)}` +
    `,"ip_addr":${JSON.stringify(cmd.ip_addr)},"geo":${JSON.stringify(cmd.geo)}` +
    `,"timestamp":${formatTimestamp(cmd.timestamp)}${timeout}` +
    `,"worker":${JSON.stringify(cmd.worker)},"broadcast":${cmd.broadcast === true}` +
    `,"hoplite":${JSON.stringify(cmd.hoplite)}}`;
}
