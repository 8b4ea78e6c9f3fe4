import type { DomainConfig } from "../../shared/config/components.ts";
import type { Settings } from "../../shared/config/settings.ts";
import type { StepName } from "../filters/domain_chain.ts";
import type { StatsSnapshot } from "../filters/statstore_http_stats.ts";
import type { LogLevel } from "../../shared/log/logger.ts";
import type { RunnerDropReason } from "./chain_runner.ts";

/** Messages from the ingest thread to a chain worker. */
export type ToWorker =
  | { t: "init"; settings: Settings; global: DomainConfig; worker: number; logLevel: LogLevel }
  | { t: "configure"; id: number; domainId: number; config: DomainConfig }
  | { t: "global"; global: DomainConfig }
  | { t: "remove"; id: number; domainId: number }
  | {
    t: "batch";
    seq: number;
    count: number;
    /**
     * Per record: ingest sequence number, domain id, event time (ms), end of its body in
     * `bytes`, where the wire bodies lie one after another, not yet decoded.
     */
    buffers: BatchBuffers;
  }
  | { t: "sweep"; now: number }
  | { t: "stats"; id: number }
  | { t: "close"; id: number };

/** The typed arrays of one batch (whole buffers, each record's bytes within `bytes`). */
export interface BatchBuffers {
  seqs: Float64Array<ArrayBuffer>;
  domains: Uint32Array<ArrayBuffer>;
  nows: Float64Array<ArrayBuffer>;
  ends: Uint32Array<ArrayBuffer>;
  bytes: Uint8Array<ArrayBuffer>;
}

/** A record a worker did not filter: a duplicate request id, or a body it could not decode. */
export interface WorkerDrop {
  reason: RunnerDropReason;
  domainId: number;
  detail?: string;
}

/** Messages from a chain worker to the ingest thread. */
export type FromWorker =
  | { t: "ack"; id: number; error?: string; steps?: StepName[]; skipped?: string[] }
  | {
    t: "done";
    seq: number;
    /**
     * Decisions with the ingest sequence number of their record, as JSON text ("" for none):
     * under a flood most records decide something, and the ingest thread parses JSON several
     * times faster than it deserializes as many small objects.
     */
    decisions: string;
    drops: WorkerDrop[];
    /** Records of the batch whose processing raised (counted as pipeline errors). */
    errors: number;
    telemetry: string[];
    /** The batch's buffers, transferred back for the ingest thread to fill again. */
    buffers: BatchBuffers;
  }
  | {
    t: "stats";
    id: number;
    snapshot: StatsSnapshot;
    /** CPU seconds (user + system) this worker's thread has used. */
    cpu: number;
  };
