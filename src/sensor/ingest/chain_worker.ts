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
import { LocalRunner } from "./local_runner.ts";
import {
  DecisionPacker,
  type FromWorker,
  type ToWorker,
  type WorkerDrop,
} from "./_worker_protocol.ts";
import process from "node:process";

/** CPU seconds this thread has used (getrusage of the thread): /metrics per worker. */
function threadCpuSeconds(): number {
  const { user, system } = process.threadCpuUsage();
  return (user + system) / 1e6;
}

/** Records per DomainChain.runBatch call. */
const CHAIN_BATCH = 64;

let runner: LocalRunner | undefined;
let global: DomainConfig;
/** Largest body accepted (settings max_body), as the ingest thread's decoder had it. */
let maxBytes = 1 << 20;
/** This batch's decisions. */
const decisions = new DecisionPacker();
let drops: WorkerDrop[] = [];
let telemetry: string[] = [];

function post(message: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
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
      maxBytes = message.settings.max_body;
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
          decide: (d) => decisions.add(d),
          drop: (reason, domainId) => void drops.push({ reason, domainId }),
        },
        message.worker,
      );
      // A batch from the ingest thread holds hundreds of records: Lua is entered per 64.
      runner.batch(CHAIN_BATCH);
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
      const { count, buffers } = message;
      const { seqs, domains, nows, ends, bytes } = buffers;
      let errors = 0;
      let start = 0;
      for (let i = 0; i < count; i++) {
        const end = ends[i]!;
        const body = bytes.subarray(start, end);
        start = end;
        try {
          const result = decodeRecord(body, { maxBytes });
          if (!result.ok) {
            drops.push({ reason: result.reason, domainId: domains[i]!, detail: result.detail });
            continue;
          }
          const pending = runner!.submit(domains[i]!, result.record, body, nows[i]!, seqs[i]!);
          if (pending) await pending;
        } catch {
          // A record that raises must not lose the batch's answer (the ingest thread waits
          // for it): it is counted, and the next record goes on.
          errors++;
        }
      }
      try {
        // Every record of the batch decided: nothing reads its bytes any more (a decision
        // keeps a sample of copied strings, never the record), so they may go back.
        await runner!.settled();
      } finally {
        const decided = decisions.take();
        post(
          { t: "done", seq: message.seq, decisions: decided, drops, errors, telemetry, buffers },
          [
            seqs.buffer,
            domains.buffer,
            nows.buffer,
            ends.buffer,
            bytes.buffer,
          ],
        );
        drops = [];
        telemetry = [];
      }
      return;
    }
    case "sweep":
      runner?.sweep(message.now);
      return;
    case "stats":
      post({ t: "stats", id: message.id, snapshot: runner!.stats(), cpu: threadCpuSeconds() });
      return;
    case "close":
      await runner?.close();
      post({ t: "ack", id: message.id });
      self.close();
      return;
  }
}
