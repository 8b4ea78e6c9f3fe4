/// <reference lib="deno.worker" />
/**
 * The access-log reader of `qts replay --log` (see read_log_batches.ts): reads, parses and
 * encodes the lines of each log into batches of wire bytes on its own thread, and posts each
 * batch with its buffers transferred, never more than its credits ahead of the consumer.
 * @module
 */
import { encodeRecordInto } from "../wire/encode_record.ts";
import type { HttpRecord } from "../wire/record.ts";
import { readAccessLog } from "./read_access_log.ts";
import type { FromReader, ToReader } from "./read_log_batches.ts";

let credits = 0;
let waiting: (() => void) | undefined;

function post(message: FromReader, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

self.onmessage = (event: MessageEvent<ToReader>) => {
  const message = event.data;
  if (message.t === "more") {
    credits++;
    waiting?.();
    return;
  }
  credits = message.credits;
  void readAll(message).catch((error) => {
    post({ t: "error", log: -1, message: (error as Error).message });
  });
};

/** A batch being filled: bodies encoded one after another into one buffer. */
class Batch {
  count = 0;
  domains: Uint32Array<ArrayBuffer>;
  times: Float64Array<ArrayBuffer>;
  ends: Uint32Array<ArrayBuffer>;
  bytes: Uint8Array<ArrayBuffer>;
  size = 0;

  constructor(records: number) {
    this.domains = new Uint32Array(records);
    this.times = new Float64Array(records);
    this.ends = new Uint32Array(records);
    this.bytes = new Uint8Array(records * 1024);
  }

  add(domain: number, t: number, record: HttpRecord): void {
    let end = encodeRecordInto(record, this.bytes, this.size);
    while (end < 0) {
      // A record larger than the room left (a long header block): grow and encode again.
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes.subarray(0, this.size));
      this.bytes = grown;
      end = encodeRecordInto(record, this.bytes, this.size);
    }
    this.size = end;
    this.domains[this.count] = domain;
    this.times[this.count] = t;
    this.ends[this.count] = end;
    this.count++;
  }
}

async function readAll(start: ToReader & { t: "start" }): Promise<void> {
  for (let log = 0; log < start.logs.length; log++) {
    const counts = { lines: 0, bad: 0 };
    let reported = { lines: 0, bad: 0 };
    const since = () => {
      const delta = { lines: counts.lines - reported.lines, bad: counts.bad - reported.bad };
      reported = { ...counts };
      return delta;
    };
    let batch = new Batch(start.batchSize);
    const send = async () => {
      while (credits === 0) {
        const { promise, resolve } = Promise.withResolvers<void>();
        waiting = resolve;
        await promise;
        waiting = undefined;
      }
      credits--;
      const n = batch.count;
      // Views of the batch's own buffers, transferred: the batch is not touched again.
      const out = {
        domains: batch.domains.subarray(0, n),
        times: batch.times.subarray(0, n),
        ends: batch.ends.subarray(0, n),
        bytes: batch.bytes.subarray(0, batch.size),
      };
      post({ t: "batch", log, count: n, ...since(), ...out }, [
        batch.domains.buffer,
        batch.times.buffer,
        batch.ends.buffer,
        batch.bytes.buffer,
      ]);
      batch = new Batch(start.batchSize);
    };
    try {
      for await (
        const item of readAccessLog(start.logs[log]!, {
          domain: start.domain,
          format: start.format,
          counts,
          onBad: (lineNo, line) => {
            if (counts.bad <= start.badLines) post({ t: "bad", log, lineNo, line });
          },
        })
      ) {
        batch.add(item.domain, item.t, item.record);
        if (batch.count === start.batchSize) await send();
      }
    } catch (error) {
      post({ t: "error", log, message: (error as Error).message });
      return;
    }
    if (batch.count > 0) await send();
    post({ t: "end", log, ...since() });
  }
}
