/**
 * What one TrActor job saw, counted where it runs (the job worker) and handed to the runner with
 * the job's end, which adds it to `/metrics`: flows by label and source, why the model said
 * `unknown`, frames and blocks the capture reader skipped, the capture's error, store errors.
 * @module
 */
import type { CaptureErrorKind } from "../../shared/capture/capture_error.ts";
import type { AnalyzeSummary } from "../analyze/analyze_capture.ts";
import type { UnknownReason } from "../classify/model/unknown_guard.ts";
import type { FlowSource, FlowVerdict } from "./flow_labeler.ts";
import type { StoreErrorKind, StoreOperation } from "./tractor_store.ts";

/** A tally as plain data (what crosses from the worker to the runner). */
export interface JobTallyData {
  /** Frames read. */
  packets: number;
  flows: { label: string; source: FlowSource; count: number }[];
  unknown: { reason: UnknownReason; count: number }[];
  /** Frames that gave no flow packet, by the decoder's reason (`not_ip`, `truncated` …) or as
   * `duplicate`. */
  skippedPackets: { reason: string; count: number }[];
  /** pcapng blocks of a type the reader does not use. */
  skippedBlocks: number;
  /** Why the capture could not be read to its end, if it could not. */
  captureError: CaptureErrorKind | null;
  storeErrors: { operation: StoreOperation; kind: StoreErrorKind; count: number }[];
}

/** Counts of one job; see {@linkcode JobTallyData}. */
export class JobTally {
  #packets = 0;
  #flows = new Map<string, { label: string; source: FlowSource; count: number }>();
  #unknown = new Map<UnknownReason, number>();
  #skipped: { reason: string; count: number }[] = [];
  #skippedBlocks = 0;
  #captureError: CaptureErrorKind | null = null;
  #storeErrors = new Map<
    string,
    { operation: StoreOperation; kind: StoreErrorKind; count: number }
  >();

  /** One labelled flow. */
  flow(v: Pick<FlowVerdict, "label" | "source" | "unknownReason">): void {
    const k = `${v.source}\0${v.label}`;
    const e = this.#flows.get(k);
    if (e) e.count++;
    else this.#flows.set(k, { label: v.label, source: v.source, count: 1 });
    if (v.unknownReason !== undefined) {
      this.#unknown.set(v.unknownReason, (this.#unknown.get(v.unknownReason) ?? 0) + 1);
    }
  }

  /** The reader's account of the capture, once read. */
  capture(summary: AnalyzeSummary): void {
    this.#packets = summary.packets;
    this.#skipped = Object.entries(summary.skippedByReason).map(([reason, count]) => ({
      reason,
      count,
    }));
    // Repeats of a frame within the duplicate window are left out of the flows too.
    if (summary.duplicates > 0) {
      this.#skipped.push({ reason: "duplicate", count: summary.duplicates });
    }
    this.#skippedBlocks = summary.skippedBlocks;
    this.#captureError = summary.error?.kind ?? null;
  }

  /** One failed store call. */
  storeError(operation: StoreOperation, kind: StoreErrorKind): void {
    const k = `${operation}\0${kind}`;
    const e = this.#storeErrors.get(k);
    if (e) e.count++;
    else this.#storeErrors.set(k, { operation, kind, count: 1 });
  }

  /** The counts as plain data. */
  data(): JobTallyData {
    return {
      packets: this.#packets,
      flows: [...this.#flows.values()],
      unknown: [...this.#unknown].map(([reason, count]) => ({ reason, count })),
      skippedPackets: this.#skipped,
      skippedBlocks: this.#skippedBlocks,
      captureError: this.#captureError,
      storeErrors: [...this.#storeErrors.values()],
    };
  }
}
