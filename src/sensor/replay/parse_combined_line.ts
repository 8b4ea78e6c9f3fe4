import { parseIPv4 } from "../../shared/net/ip.ts";
import { emptyRecord, type HttpRecord } from "../wire/record.ts";

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

// $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
// "$http_referer" "$http_user_agent" — nginx escapes `"` inside values as \x22.
const COMBINED =
  /^(\S+) \S+ \S+ \[(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"/;

function unescape(text: string): string {
  if (!text.includes("\\")) return text;
  return text.replace(
    /\\x([0-9A-Fa-f]{2})|\\(.)/g,
    (_, hex, ch) => hex ? String.fromCharCode(parseInt(hex, 16)) : ch,
  );
}

/**
 * Parses one nginx/Apache `combined` access log line into a completed record (`req_type` 1)
 * with event time from `$time_local` (whole seconds: the format has no finer time), or
 * undefined when the line does not have that shape. Extra fields after the user agent (custom
 * formats that append to combined) are ignored.
 */
export function parseCombinedLine(line: string): HttpRecord | undefined {
  const m = COMBINED.exec(line);
  if (!m) return undefined;
  const month = MONTHS[m[3]!];
  if (month === undefined) return undefined;
  const offset = (Number(m[9]) * 60 + Number(m[10])) * (m[8] === "-" ? -1 : 1);
  const utc = Date.UTC(Number(m[4]), month, Number(m[2]), Number(m[5]), Number(m[6]), Number(m[7]));
  const t = utc / 1000 - offset * 60;
  const record = emptyRecord();
  record.req_type = 1;
  const ip = m[1]!;
  const v4 = parseIPv4(ip);
  if (v4 !== undefined) record.remote_ip = v4;
  else if (ip.includes(":")) record.remote_addr = ip;
  else return undefined;
  record.timestamp = t;
  record.msec = `${t}.000`;
  const request = unescape(m[11]!);
  record.request = request;
  const parts = request.split(" ");
  if (parts.length >= 2) {
    record.method = parts[0]!;
    record.url = parts[1]!;
    record.version = parts[2] ?? "";
  }
  record.status = Number(m[12]);
  record.body_bytes_sent = m[13] === "-" ? 0 : Number(m[13]);
  const referer = unescape(m[14]!);
  record.referer = referer === "-" ? "" : referer;
  const ua = unescape(m[15]!);
  record.http_user_agent = ua === "-" ? "" : ua;
  return record;
}
