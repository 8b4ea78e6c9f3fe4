/// <reference lib="deno.worker" />
/**
 * A chain worker: holds the filter chains (and so the per-IP state) of the client IPs sharded
 * to it, runs batches of records posted by the ingest thread, and posts back the decisions.
 * @module
 */
import type { DomainConfig } from "../../shared/config/components.ts";
import { HttpStats } from "../filters/statstore_http_stats.ts";
import { createLogger } from "../../shared/log/logger.ts";
import { decodeRecord } from "../wire/decode_record.ts";
import type { Decision } from "./chain_runner.ts";
import { LocalRunner } from "./local_runner.ts";
import type { FromWorker, ToWorker } from "./_worker_protocol.ts";

let runner: LocalRunner | undefined;
let global: DomainConfig;
let decisions: (Decision & { seq: number })[] = [];
let duplicates: number[] = [];
let telemetry: string[] = [];

function post(message: FromWorker): void {
  self.postMessage(message);
}

// Messages are handled strictly in order, including the async ones (configure, batches whose
// chain awaits memcached), so a record never overtakes the configuration sent before it.
let queue: Promise<void> = Promise.resolve();

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  queue = queue.then(() => handle(message)).catch((error) => {
    console.error(
      JSON.stringify({ level: "error", msg: "chain worker failed", error: String(error) }),
    );
  });
};

async function handle(message: ToWorker): Promise<void> {
  switch (message.t) {
    case "init": {
      global = message.global;
      const stats = new HttpStats();
      runner = new LocalRunner(
        {
          settings: message.settings,
          global: () => global,
          log: createLogger({ level: message.logLevel }),
          stats,
          publishTelemetry: (json) => void telemetry.push(json),
        },
        {
          decide: ({ tag, ...d }) => void decisions.push({ ...d, seq: tag ?? 0 }),
          drop: (_reason, domainId) => void duplicates.push(domainId),
        },
        message.worker,
      );
      return;
    }
    case "configure":
      try {
        const skipped = await runner!.configure(message.domainId, message.config);
        post({ t: "ack", id: message.id, steps: runner!.steps(message.domainId) ?? [], skipped });
      } catch (error) {
        post({ t: "ack", id: message.id, error: (error as Error).message });
      }
      return;
    case "global":
      global = message.global;
      runner!.setGlobal(message.global);
      return;
    case "remove":
      await runner!.remove(message.domainId);
      post({ t: "ack", id: message.id });
      return;
    case "batch": {
      let start = 0;
      for (let i = 0; i < message.domains.length; i++) {
        const end = message.ends[i]!;
        const result = decodeRecord(message.bytes.subarray(start, end), { maxBytes: Infinity });
        start = end;
        if (!result.ok) continue; // validated by the ingest thread already
        const pending = runner!.submit(
          message.domains[i]!,
          result.record,
          message.bytes,
          message.nows[i]!,
          message.seqs[i]!,
        );
        if (pending) await pending;
      }
      await runner!.settled();
      post({ t: "done", seq: message.seq, decisions, duplicates, telemetry });
      decisions = [];
      duplicates = [];
      telemetry = [];
      return;
    }
    case "sweep":
      runner?.sweep(message.now);
      return;
    case "stats":
      post({ t: "stats", id: message.id, snapshot: runner!.stats() });
      return;
    case "close":
      await runner?.close();
      post({ t: "ack", id: message.id });
      self.close();
      return;
  }
}
