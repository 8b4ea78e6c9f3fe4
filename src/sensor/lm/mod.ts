/**
 * List manager (seed §2.2.4, §3.4.2; SPEC §5, §6): projections turn filter events into firewall
 * ban/unban commands.
 *
 * - `ListManager` (`list_manager.ts`): per-domain projections and active bans. The ingest
 *   pipeline calls `onEvents(domainId, ip, events, flags, worker)` for each request that has
 *   events and `tick()` every 30 s (onEvents also ticks lazily on event time, so replay needs no
 *   timer); the API calls `configure`, `removeDomain`, `bans`, `unban`, `modes`. Commands go out
 *   through the injected `emit`; `restore()` at start and `close()` at exit persist active bans
 *   and modes in `stateFile`.
 * - `formatCommand` (`command.ts`): the JSON text of a command in the seed's exact key order.
 *
 * Modes of an auto projection: nursery (counts events and distinct IPs of each 30 s window,
 * keeps no addresses, only capped sets of 32-bit hashes dropped every tick) → watch (remembers
 * IPs with their events, drops those idle for watch_ttl) → block (one `add` per (rule_name, IP)
 * while active; at activation from watch, an `add` for every watched IP). `cooldown` brings an
 * auto projection back to its first mode after that many seconds without matching events.
 * Expired bans are dropped silently: the firewall expires them by `timeout` itself.
 */
export * from "./command.ts";
export * from "./list_manager.ts";
