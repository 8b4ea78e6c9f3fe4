import { parseIPv4 } from "../../shared/net/ip.ts";
import { emptyRecord, type HttpRecord } from "../wire/record.ts";

/** A record read from one nginx JSON log line, with the domain the line names (if any). */
export interface LoggedRecord {
  /** From the line's `domain` key (`$qts_domain` in config/nginx/qts.conf). */
  domain: number | undefined;
  record: HttpRecord;
}

// nginx variable names an operator's own JSON format may use, mapped to wire names.
const ALIASES: Record<string, string> = {
  request_method: "method",
  request_uri: "url",
  server_protocol: "version",
  http_host: "host",
  http_referer: "referer",
  http_accept: "accept",
  http_accept_language: "accept_language",
  http_accept_encoding: "accept_encoding",
  http_x_forwarded_for: "forwarded_for",
  http_cookie: "cookie",
  upstream_status: "upstream_statuses",
  upstream_response_time: "upstream_durations",
  request_id: "qrator_request_id",
};

// nginx logs these in seconds with millisecond resolution; the record carries milliseconds.
const SECONDS_TO_MS = new Set(["request_time", "response_time", "last_response_time"]);
const TEMPLATE = emptyRecord() as unknown as Record<string, unknown>;

/** Why a line is not a record: not JSON, not an object, no client address, no usable time. */
export type NginxJsonProblem = "bad_json" | "not_object" | "no_client" | "no_time";

/**
 * Maps one line of the JSON `log_format qts_json` (config/nginx/qts.conf) to a record: keys are
 * wire field names (a few nginx variable names are accepted too), `remote_addr` gives the
 * client, `msec` the event time; numbers may come as strings, `-` counts as empty. The record is
 * a completed one (`req_type` 1): an access log line is written after the response. Returns
 * undefined when the line is not a JSON object with a usable client address and time
 * ({@linkcode readNginxJsonLine} says which).
 */
export function nginxJsonRecord(line: string): LoggedRecord | undefined {
  const read = readNginxJsonLine(line);
  return typeof read === "string" ? undefined : read;
}

/**
 * {@linkcode nginxJsonRecord} that names the problem of a line it cannot use, so an input can
 * count rejected lines by reason.
 */
export function readNginxJsonLine(line: string): LoggedRecord | NginxJsonProblem {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch {
    return "bad_json";
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) return "not_object";
  const record = emptyRecord();
  record.req_type = 1;
  const target = record as unknown as Record<string, unknown>;
  let domain: number | undefined;
  let ip = "";
  for (const [rawKey, value] of Object.entries(obj as Record<string, unknown>)) {
    if (value === null || value === undefined) continue;
    const key = ALIASES[rawKey] ?? rawKey;
    const text = String(value);
    if (key === "remote_addr") ip = text;
    else if (key === "domain") {
      if (/^\d{1,10}$/.test(text)) domain = Number(text);
    } else if (key === "msec") record.msec = text;
    else if (key in TEMPLATE && key !== "remote_ip" && key !== "timestamp") {
      const kind = typeof TEMPLATE[key];
      if (kind === "string") target[key] = text;
      else if (kind === "number") {
        const n = Number(text === "-" || text === "" ? 0 : text);
        if (Number.isFinite(n)) {
          target[key] = SECONDS_TO_MS.has(key) ? Math.round(n * 1000) : Math.trunc(n);
        }
      }
    }
  }
  if (ip === "") return "no_client";
  const t = Number(record.msec);
  if (record.msec === "" || !Number.isFinite(t)) return "no_time";
  record.timestamp = Math.floor(t);
  const v4 = parseIPv4(ip);
  if (v4 !== undefined) record.remote_ip = v4;
  else record.remote_addr = ip;
  if (record.request === "" && record.method !== "") {
    record.request = `${record.method} ${record.url} ${record.version}`.trim();
  }
  return { domain, record };
}
