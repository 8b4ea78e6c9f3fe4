/**
 * TrActor's counters, rendered at `GET /metrics` as Prometheus text with the project's registry
 * (`shared/metrics`, as the sensor's). Nothing is lost in silence: every job's outcome, every
 * flow's label source (and why the model said `unknown`), every frame or block the capture reader
 * skipped, every capture error, store error, claim, lease renewal and lease expiry is counted.
 * Every label takes values from a fixed set (routes as registered, never raw paths), except
 * `label`, whose values come from the labels configuration and the model's classes.
 * @module
 */
import { type Labels, Metrics } from "../../shared/metrics/metrics.ts";
import { skipReasonNames } from "../../shared/capture/decode_packet.ts";
import type { CaptureErrorKind } from "../../shared/capture/capture_error.ts";
import type { UnknownReason } from "../classify/model/unknown_guard.ts";
import type { JobTallyData } from "./job_tally.ts";
import type { JobState, StoreErrorKind, StoreOperation } from "./tractor_store.ts";

/** How a job ended here. */
export type JobOutcome =
  | "finished" // read to its end
  | "partial" // finished, but the capture was truncated or corrupt after some packets
  | "unreadable" // failed: not a readable capture
  | "missing" // failed: the capture left the repository
  | "crashed" // failed: its worker crashed
  | "store" // failed: the store refused a write
  | "lost" // another host took it over (its lease had expired); not failed here
  | "abandoned" // failed: its holders' leases expired too often
  | "interrupted" // failed: restarts interrupted it too often
  | "error"; // failed otherwise

const OUTCOMES: readonly JobOutcome[] = [
  "finished",
  "partial",
  "unreadable",
  "missing",
  "crashed",
  "store",
  "lost",
  "abandoned",
  "interrupted",
  "error",
];
const UNKNOWN_REASONS: readonly UnknownReason[] = ["protocol", "port", "features", "confidence"];
const CAPTURE_ERRORS: readonly CaptureErrorKind[] = [
  "empty",
  "format",
  "truncated",
  "corrupt",
  "gzip",
];
const STATES: readonly JobState[] = ["new", "in_progress", "finished", "failed"];
/** Job durations: from a fraction of a second (a small capture) to hours. */
const DURATION_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 1800, 7200] as const;
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]);

const H = {
  jobs: "TrActor jobs in the store by state (the whole queue, on a shared store)",
  ended: "TrActor jobs that ended on this host, by outcome",
  duration: "Seconds from claim to end of TrActor jobs run on this host, by outcome",
  submitted: "Processing requests: queued as a new job, or answered with an existing one",
  flows: "Flows labelled, by label and where the label came from",
  unknown: "Flows the model would not name, by reason (protocol, port = foreign service, " +
    "features = out of the training range, confidence = below the threshold)",
  packets: "Frames read from captures",
  skipped: "Frames of captures that gave no flow packet, by reason (the decoder's, or duplicate)",
  blocks: "pcapng blocks of a type the reader does not use, skipped",
  captureErrors: "Captures that could not be read to their end, by what was wrong",
  store: "Failed store calls, by operation and kind (lost_claim: another host holds the job)",
  claims: "Attempts to claim a job: queued job taken, expired lease taken over, none, error",
  renewals: "Lease renewals of running jobs: renewed, lost (another host took it), error",
  expiries: "Expired leases found when claiming: job taken over, or failed (abandoned too often)",
  requests: "TrActor API requests by route (as registered), method and status",
} as const;

/** The TrActor counters over a {@linkcode Metrics} registry. */
export class TractorMetrics {
  readonly registry: Metrics;

  constructor(registry: Metrics = new Metrics()) {
    this.registry = registry;
    // Every series of a fixed set exists from the start, so a rate over it is defined and a
    // scrape shows what is being counted before it first happens.
    const zero = (name: string, help: string, labels: Labels) =>
      registry.inc(name, help, labels, 0);
    for (const outcome of OUTCOMES) zero("qts_tractor_jobs_ended_total", H.ended, { outcome });
    for (const result of ["queued", "reused"]) {
      zero("qts_tractor_jobs_submitted_total", H.submitted, { result });
    }
    for (const reason of UNKNOWN_REASONS) {
      zero("qts_tractor_flows_unknown_total", H.unknown, { reason });
    }
    zero("qts_tractor_capture_packets_total", H.packets, {});
    for (const reason of [...skipReasonNames.slice(1), "duplicate"]) {
      zero("qts_tractor_capture_packets_skipped_total", H.skipped, { reason });
    }
    zero("qts_tractor_capture_blocks_skipped_total", H.blocks, {});
    for (const kind of CAPTURE_ERRORS) {
      zero("qts_tractor_capture_errors_total", H.captureErrors, { kind });
    }
    for (const operation of ["query", "transaction", "schema"]) {
      for (const kind of ["lost_claim", "database"]) {
        zero("qts_tractor_store_errors_total", H.store, { operation, kind });
      }
    }
    for (const result of ["queued", "taken_over", "none", "error"]) {
      zero("qts_tractor_claims_total", H.claims, { result });
    }
    for (const result of ["renewed", "lost", "error"]) {
      zero("qts_tractor_lease_renewals_total", H.renewals, { result });
    }
    for (const outcome of ["taken_over", "given_up"]) {
      zero("qts_tractor_lease_expiries_total", H.expiries, { outcome });
    }
    for (const state of STATES) registry.set("qts_tractor_jobs", H.jobs, { state }, 0);
  }

  /** A job ended here; `seconds` from its claim, when it was claimed here. */
  jobEnded(outcome: JobOutcome, seconds?: number): void {
    this.registry.inc("qts_tractor_jobs_ended_total", H.ended, { outcome });
    if (seconds !== undefined) {
      this.registry.observe(
        "qts_tractor_job_duration_seconds",
        H.duration,
        { outcome },
        seconds,
        DURATION_BUCKETS,
      );
    }
  }

  /** A processing request: a new job, or an existing one answered. */
  submitted(result: "queued" | "reused"): void {
    this.registry.inc("qts_tractor_jobs_submitted_total", H.submitted, { result });
  }

  /** What a job worker counted. */
  tally(t: JobTallyData): void {
    const r = this.registry;
    r.inc("qts_tractor_capture_packets_total", H.packets, {}, t.packets);
    for (const f of t.flows) {
      r.inc("qts_tractor_flows_total", H.flows, { label: f.label, source: f.source }, f.count);
    }
    for (const u of t.unknown) {
      r.inc("qts_tractor_flows_unknown_total", H.unknown, { reason: u.reason }, u.count);
    }
    for (const s of t.skippedPackets) {
      r.inc("qts_tractor_capture_packets_skipped_total", H.skipped, { reason: s.reason }, s.count);
    }
    r.inc("qts_tractor_capture_blocks_skipped_total", H.blocks, {}, t.skippedBlocks);
    if (t.captureError !== null) {
      r.inc("qts_tractor_capture_errors_total", H.captureErrors, { kind: t.captureError });
    }
    for (const e of t.storeErrors) this.storeError(e.operation, e.kind, e.count);
  }

  /** Failed store calls. */
  storeError(operation: StoreOperation, kind: StoreErrorKind, count = 1): void {
    this.registry.inc("qts_tractor_store_errors_total", H.store, { operation, kind }, count);
  }

  /** One claim attempt. */
  claim(result: "queued" | "taken_over" | "none" | "error"): void {
    this.registry.inc("qts_tractor_claims_total", H.claims, { result });
  }

  /** One lease renewal. */
  leaseRenewal(result: "renewed" | "lost" | "error"): void {
    this.registry.inc("qts_tractor_lease_renewals_total", H.renewals, { result });
  }

  /** An expired lease found while claiming. */
  leaseExpired(outcome: "taken_over" | "given_up"): void {
    this.registry.inc("qts_tractor_lease_expiries_total", H.expiries, { outcome });
  }

  /** One API request: `route` as registered (`/file/:job_id/status`), never the raw path. */
  request(route: string, method: string, status: number): void {
    this.registry.inc("qts_tractor_api_requests_total", H.requests, {
      route,
      method: METHODS.has(method) ? method : "other",
      status,
    });
  }

  /** Jobs by state, read from the store just before a render. */
  jobStates(counts: Record<JobState, number>): void {
    for (const state of STATES) {
      this.registry.set("qts_tractor_jobs", H.jobs, { state }, counts[state]);
    }
  }

  /** Prometheus text. */
  render(): string {
    return this.registry.render();
  }
}
