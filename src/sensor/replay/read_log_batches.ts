import type { ReadAccessLogOptions } from "./read_access_log.ts";

/** Records of an access log as wire bytes, in file order: what the sensor's input receives. */
export interface LogBatch {
  /** The log file these records come from. */
  log: string;
  count: number;
  /** Per record: its domain, its time (unix seconds, fractional), the end of its body. */
  domains: Uint32Array;
  times: Float64Array;
  ends: Uint32Array;
  /** The encoded bodies, one after another (the first starts at 0). */
  bytes: Uint8Array;
}

/** Options of {@linkcode readLogBatches}. */
export interface ReadLogBatchesOptions extends Omit<ReadAccessLogOptions, "onBad"> {
  /** Called with the first `badLines` unparseable lines of each log. */
  onBad?: (log: string, lineNo: number, line: string) => void;
  /** How many unparseable lines per log reach onBad (all are counted). Default 5. */
  badLines?: number;
  /** Records per batch. Default 2048. */
  batchSize?: number;
}

/** Messages to the reader thread. */
export type ToReader =
  | {
    t: "start";
    logs: string[];
    domain: number;
    format: "auto" | "combined" | "json";
    badLines: number;
    batchSize: number;
    /** Batches the reader may post before it waits for a `more`. */
    credits: number;
  }
  | { t: "more" };

/** Messages from the reader thread; `lines` and `bad` count since its previous message. */
export type FromReader =
  | (Omit<LogBatch, "log"> & { t: "batch"; log: number; lines: number; bad: number })
  | { t: "bad"; log: number; lineNo: number; line: string }
  | { t: "end"; log: number; lines: number; bad: number }
  | { t: "error"; log: number; message: string };

// Batches in flight: enough that the reader never waits for the consumer's turn, few enough
// that a log read faster than the chain runs does not pile up in memory (~400 KB a batch).
const CREDITS = 4;

/**
 * Streams access logs as encoded record batches, read, parsed and encoded in a Web Worker
 * (`_log_reader_worker.ts`), so that on a second core the parsing of the next lines overlaps
 * the chain running on this thread. Logs are read one after another; the reader runs at most a
 * few batches ahead of the consumer. Throws when a log cannot be read.
 */
export async function* readLogBatches(
  logs: string[],
  options: ReadLogBatchesOptions,
): AsyncGenerator<LogBatch> {
  const counts = options.counts ?? { lines: 0, bad: 0 };
  const worker = new Worker(new URL("./_log_reader_worker.ts", import.meta.url), {
    type: "module",
  });
  const inbox: FromReader[] = [];
  let wake: (() => void) | undefined;
  worker.onmessage = (event: MessageEvent<FromReader>) => {
    inbox.push(event.data);
    wake?.();
  };
  worker.onerror = (event) => {
    event.preventDefault();
    inbox.push({ t: "error", log: -1, message: `log reader failed: ${event.message}` });
    wake?.();
  };
  const start: ToReader = {
    t: "start",
    logs,
    domain: options.domain,
    format: options.format ?? "auto",
    badLines: options.badLines ?? 5,
    batchSize: options.batchSize ?? 2048,
    credits: CREDITS,
  };
  worker.postMessage(start);
  try {
    let ended = 0;
    while (ended < logs.length) {
      const message = inbox.shift();
      if (message === undefined) {
        const { promise, resolve } = Promise.withResolvers<void>();
        wake = resolve;
        await promise;
        wake = undefined;
        continue;
      }
      switch (message.t) {
        case "batch": {
          counts.lines += message.lines;
          counts.bad += message.bad;
          const { t: _t, lines: _lines, bad: _bad, log, ...batch } = message;
          yield { log: logs[log]!, ...batch };
          worker.postMessage({ t: "more" } satisfies ToReader);
          break;
        }
        case "bad":
          options.onBad?.(logs[message.log]!, message.lineNo, message.line);
          break;
        case "end":
          counts.lines += message.lines;
          counts.bad += message.bad;
          ended++;
          break;
        case "error":
          throw new Error(
            message.log >= 0 ? `${logs[message.log]}: ${message.message}` : message.message,
          );
      }
    }
  } finally {
    worker.terminate();
  }
}
