import type { Logger } from "../../shared/log/logger.ts";
import type { IpSet } from "../../shared/net/ip_set.ts";
import type { HttpRecord } from "../wire/record.ts";
import type { ClientRegistry } from "./client_registry.ts";
import type { ProxyBanList } from "./proxy_ban_list.ts";
import type { ProxyMetrics } from "./proxy_metrics.ts";

/** Time and size limits against slow or greedy clients (`[proxy]` keys, in ms and bytes). */
export interface ProxyLimits {
  /** Whole request head, from its first byte (`header_timeout`). */
  headerTimeoutMs: number;
  /** Between two reads of a request body (`body_timeout`). */
  bodyTimeoutMs: number;
  /** A keep-alive connection waiting for its next request (`idle_timeout`). */
  idleTimeoutMs: number;
  /** One write to a client or upstream (`send_timeout`). */
  sendTimeoutMs: number;
  /** Connecting to an upstream (`connect_timeout`). */
  connectTimeoutMs: number;
  /** An upstream's response head, and between reads of its body (`upstream_timeout`). */
  upstreamTimeoutMs: number;
  /** A WebSocket or TCP tunnel with no byte either way (`tunnel_idle_timeout`). */
  tunnelIdleMs: number;
  /** Request head size (`max_header_bytes`). */
  maxHeaderBytes: number;
  /** Open connections per client address (`max_conns_per_ip`, 0 = none). */
  maxConnsPerIp: number;
  /** Other upstreams tried after a failed connect (`retries`). */
  retries: number;
}

/** One listener of `[proxy:http:<name>]` or `[proxy:tcp:<name>]`. */
export interface ListenerConfig {
  kind: "http" | "tcp";
  name: string;
  hostname: string;
  port: number;
  /** Name of the `[proxy:pool:<name>]` it sends to. */
  pool: string;
  /** Domain id of its records. */
  domain: number;
  /** Clients' connections start with a PROXY protocol header (v1 or v2). */
  proxyProtocol: boolean;
  /** Send a PROXY protocol header of this version to upstreams; 0 = none. */
  upstreamProxyProtocol: 0 | 1 | 2;
  /** TLS termination: PEM certificate chain and key files; "" = plain TCP. */
  tlsCert: string;
  tlsKey: string;
}

/** What every listener shares: limits, bans, the client registry, counters, the record sink. */
export interface ProxyContext {
  limits: ProxyLimits;
  bans: ProxyBanList;
  registry: ClientRegistry;
  metrics: ProxyMetrics;
  log: Logger;
  /** Peers whose X-Forwarded-For/Forwarded are believed. */
  trusted: IpSet | undefined;
  /** Status for a banned HTTP client (`ban_status`). */
  banStatus: number;
  /** Takes each record (the sensor's pipeline in process, or a PUSH socket); none = no records. */
  submit?: ((domain: number, record: HttpRecord) => void) | undefined;
}
