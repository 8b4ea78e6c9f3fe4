import { readLogBatches, type ReadLogBatchesOptions } from "./read_log_batches.ts";
import type { ReplaySession } from "./replay_session.ts";

/** Options of {@linkcode replayLogs}. */
export interface ReplayLogsOptions extends ReadLogBatchesOptions {
  /** Called after each batch with the log it came from and the records sent so far. */
  onProgress?: (log: string, records: number) => void;
}

/** What {@linkcode replayLogs} sent. */
export interface ReplayLogsResult {
  records: number;
  /** Earliest and latest record time (unix seconds); Infinity/-Infinity without records. */
  first: number;
  last: number;
}

/**
 * Sends the records of access logs to a replay session in file order (logs one after
 * another), read and encoded on a second thread by {@linkcode readLogBatches}, and waits until
 * the sensor has decided every one and its commands have arrived.
 */
export async function replayLogs(
  session: ReplaySession,
  logs: string[],
  options: ReplayLogsOptions,
): Promise<ReplayLogsResult> {
  let records = 0;
  let first = Infinity;
  let last = -Infinity;
  for await (const batch of readLogBatches(logs, options)) {
    const { domains, times, ends, bytes } = batch;
    let start = 0;
    for (let i = 0; i < batch.count; i++) {
      const end = ends[i]!;
      const pending = session.sendBody(domains[i]!, bytes.subarray(start, end));
      if (pending) await pending;
      start = end;
      const t = times[i]!;
      if (t < first) first = t;
      if (t > last) last = t;
    }
    records += batch.count;
    options.onProgress?.(batch.log, records);
  }
  await session.drain();
  return { records, first, last };
}
