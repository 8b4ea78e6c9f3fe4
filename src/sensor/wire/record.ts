import { formatIPv4 } from "../../shared/net/ip.ts";
/**
 * The request record a reverse proxy sends for every HTTP request (SPEC §2, seed table 1).
 * Field names are the wire names, so Lua scripts, fixtures and telemetry all speak one vocabulary.
 */
export interface HttpRecord {
  /** 0 = sent before the upstream answered, 1 = after. */
  req_type: number;
  timestamp: number;
  /** IPv4 address as an unsigned 32-bit number, first octet most significant. */
  remote_ip: number;
  reserved: number;
  request_time: number;
  response_time: number;
  last_response_time: number;
  n_responses: number;
  status: number;
  body_bytes_sent: number;
  supp_bits: number;
  failed_servers: bigint;
  responded_server: number;
  geo: string;
  method: string;
  url: string;
  version: string;
  referer: string;
  host: string;
  accept: string;
  accept_language: string;
  accept_encoding: string;
  forwarded_for: string;
  cookie: string;
  http_user_agent: string;
  http_x_requested_with: string;
  upstream_addr: string;
  upstream_statuses: string;
  upstream_durations: string;
  request: string;
  qrator_request_id: string;
  server_port: string;
  remote_port: string;
  connection_requests: string;
  msec: string;
  ssl_cipher: string;
  ssl_ciphers: string;
  reserved_a: number;
  reserved_b: number;
  sent_http_location: string;
  sent_http_content_type: string;
  headers: string;
  body: string;
  reserved_c: number;
  request_length: string;
  bytes_sent: string;
  upstream_bytes_sent: string;
  upstream_bytes_received: string;
  /** Our extension: textual IPv4/IPv6 client address; overrides remote_ip when present. */
  remote_addr?: string;
}

/** Kinds of the fixed-part fields, in wire order. */
export type FixedKind = (typeof FIXED_FIELDS)[number][1];

/** The fixed 488-byte part, in wire order: [name, kind, size in bytes]. */
export const FIXED_FIELDS = [
  ["req_type", "u32", 4],
  ["timestamp", "u32", 4],
  ["remote_ip", "u32be", 4],
  ["reserved", "u32", 4],
  ["request_time", "u32", 4],
  ["response_time", "u32", 4],
  ["last_response_time", "u32", 4],
  ["n_responses", "u16", 2],
  ["status", "u16", 2],
  ["body_bytes_sent", "u32", 4],
  ["supp_bits", "u32", 4],
  ["failed_servers", "u64", 8],
  ["responded_server", "i8", 1],
  ["geo", "char", 2],
  ["method", "char", 8],
  ["url", "char", 132],
  ["version", "char", 9],
  ["referer", "char", 64],
  ["host", "char", 32],
  ["accept", "char", 16],
  ["accept_language", "char", 8],
  ["accept_encoding", "char", 24],
  ["forwarded_for", "char", 16],
  ["cookie", "char", 128],
] as const;

/** The variable part, in wire order: a string field is `u32 length + bytes`, `u32` a plain u32. */
export const TAIL_FIELDS = [
  ["http_user_agent", "str"],
  ["http_x_requested_with", "str"],
  ["upstream_addr", "str"],
  ["upstream_statuses", "str"],
  ["upstream_durations", "str"],
  ["request", "str"],
  ["qrator_request_id", "str"],
  ["server_port", "str"],
  ["remote_port", "str"],
  ["connection_requests", "str"],
  ["msec", "str"],
  ["ssl_cipher", "str"],
  ["ssl_ciphers", "str"],
  ["reserved_a", "u32"],
  ["reserved_b", "u32"],
  ["sent_http_location", "str"],
  ["sent_http_content_type", "str"],
  ["headers", "str"],
  ["body", "str"],
  ["reserved_c", "u32"],
  ["request_length", "str"],
  ["bytes_sent", "str"],
  ["upstream_bytes_sent", "str"],
  ["upstream_bytes_received", "str"],
] as const;

/** Size of the fixed part of the body. */
export const FIXED_SIZE = 488;

/** A record with every field empty or zero; the base for encoders, fixtures and tests. */
export function emptyRecord(): HttpRecord {
  return {
    req_type: 0,
    timestamp: 0,
    remote_ip: 0,
    reserved: 0,
    request_time: 0,
    response_time: 0,
    last_response_time: 0,
    n_responses: 0,
    status: 0,
    body_bytes_sent: 0,
    supp_bits: 0,
    failed_servers: 0n,
    responded_server: 0,
    geo: "",
    method: "",
    url: "",
    version: "",
    referer: "",
    host: "",
    accept: "",
    accept_language: "",
    accept_encoding: "",
    forwarded_for: "",
    cookie: "",
    http_user_agent: "",
    http_x_requested_with: "",
    upstream_addr: "",
    upstream_statuses: "",
    upstream_durations: "",
    request: "",
    qrator_request_id: "",
    server_port: "",
    remote_port: "",
    connection_requests: "",
    msec: "",
    ssl_cipher: "",
    ssl_ciphers: "",
    reserved_a: 0,
    reserved_b: 0,
    sent_http_location: "",
    sent_http_content_type: "",
    headers: "",
    body: "",
    reserved_c: 0,
    request_length: "",
    bytes_sent: "",
    upstream_bytes_sent: "",
    upstream_bytes_received: "",
  };
}

/** The client address of a record as text: `remote_addr` when present, else dotted `remote_ip`. */
export function clientAddress(record: HttpRecord): string {
  if (record.remote_addr) return record.remote_addr;
  return formatIPv4(record.remote_ip);
}
