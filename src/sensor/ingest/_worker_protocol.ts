import type { DomainConfig } from "../../shared/config/components.ts";
import type { Settings } from "../../shared/config/settings.ts";
import type { StepName } from "../filters/domain_chain.ts";
import type { StatsSnapshot } from "../filters/statstore_http_stats.ts";
import type { LogLevel } from "../../shared/log/logger.ts";
import type { Decision } from "./chain_runner.ts";

/** Messages from the ingest thread to a chain worker. */
export type ToWorker =
  | { t: "init"; settings: Settings; global: DomainConfig; worker: number; logLevel: LogLevel }
  | { t: "configure"; id: number; domainId: number; config: DomainConfig }
  | { t: "global"; global: DomainConfig }
  | { t: "remove"; id: number; domainId: number }
  | {
    t: "batch";
    seq: number;
    /** Per record: ingest sequence number, domain id, event time (ms), end of its body. */
    seqs: Float64Array;
    domains: Uint32Array;
    nows: Float64Array;
    ends: Uint32Array;
    bytes: Uint8Array;
  }
  | { t: "sweep"; now: number }
  | { t: "stats"; id: number }
  | { t: "close"; id: number };

/** Messages from a chain worker to the ingest thread. */
export type FromWorker =
  | { t: "ack"; id: number; error?: string; steps?: StepName[]; skipped?: string[] }
  | {
    t: "done";
    seq: number;
    /** Decisions with the ingest sequence number of their record. */
    decisions: (Decision & { seq: number })[];
    duplicates: number[];
    telemetry: string[];
  }
  | { t: "stats"; id: number; snapshot: StatsSnapshot };
