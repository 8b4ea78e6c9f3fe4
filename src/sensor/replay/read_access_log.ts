import { nginxJsonRecord } from "../syslog/nginx_json_record.ts";
import type { TimedRecord } from "./expand_requests.ts";
import { parseCombinedLine } from "./parse_combined_line.ts";

/** Options of {@linkcode readAccessLog}. */
export interface ReadAccessLogOptions {
  /** `auto` decides per line: `{` starts a JSON line, anything else is combined. */
  format?: "auto" | "combined" | "json";
  /** Domain of lines that do not name one. */
  domain: number;
  /** Counts lines read and lines that could not be parsed. */
  counts?: { lines: number; bad: number };
  /** Called with the 1-based number and text of each line that could not be parsed. */
  onBad?: (lineNo: number, line: string) => void;
}

/**
 * Streams the records of an nginx access log, `combined` or our JSON `log_format`, in file
 * order with their times from the lines. Reads the file in chunks, so a million-line log never
 * sits in memory; empty lines are skipped, unparseable ones counted.
 */
export async function* readAccessLog(
  path: string,
  options: ReadAccessLogOptions,
): AsyncGenerator<TimedRecord> {
  const format = options.format ?? "auto";
  const counts = options.counts ?? { lines: 0, bad: 0 };
  const file = await Deno.open(path);
  let lineNo = 0;
  let rest = "";
  const parse = (line: string): TimedRecord | undefined => {
    lineNo++;
    if (line.length === 0 || line === "\r") return undefined;
    counts.lines++;
    const text = line.endsWith("\r") ? line.slice(0, -1) : line;
    if (format === "json" || (format === "auto" && text.startsWith("{"))) {
      const logged = nginxJsonRecord(text);
      if (logged) {
        return {
          domain: logged.domain ?? options.domain,
          t: Number(logged.record.msec),
          record: logged.record,
        };
      }
    } else {
      const record = parseCombinedLine(text);
      if (record) return { domain: options.domain, t: record.timestamp, record };
    }
    counts.bad++;
    options.onBad?.(lineNo, text);
    return undefined;
  };
  for await (const chunk of file.readable.pipeThrough(new TextDecoderStream())) {
    let start = 0;
    let nl: number;
    const text = rest + chunk;
    while ((nl = text.indexOf("\n", start)) >= 0) {
      const item = parse(text.slice(start, nl));
      if (item) yield item;
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  if (rest.length > 0) {
    const item = parse(rest);
    if (item) yield item;
  }
}
