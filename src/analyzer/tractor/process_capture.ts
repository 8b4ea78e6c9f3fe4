/**
 * Runs one TrActor job: analyses a capture, labels each finished flow and writes the flows to the
 * store in batches, then completes the job with its aggregates. Used inside the job worker; the
 * job must be held under `claim` (the runner claims it before handing it over): a write after the
 * claim was lost throws, and the analysis stops.
 */
import { analyzeCapture } from "../analyze/analyze_capture.ts";
import type { Flow } from "../flows/flow.ts";
import { flowLabeler } from "./flow_labeler.ts";
import type { FlowRow, JobClaim, TractorStore } from "./tractor_store.ts";
import type { JobTally } from "./job_tally.ts";
import { CaptureError } from "../../shared/capture/capture_error.ts";

/** Options of {@linkcode processCapture}. */
export interface ProcessCaptureOptions {
  /** Flow timeout in seconds (default 120). */
  flowTimeoutSeconds?: number;
  /** Labels YAML text and its name; default the embedded `config/labels.yaml`. */
  labels?: { text: string; source: string };
  /** Flows written per transaction (default 2000). */
  batchSize?: number;
  /** Stops the job; it then fails with "aborted". */
  signal?: AbortSignal;
  /** Called after each buffer refill with the bytes read so far. */
  onProgress?: (bytesRead: number) => void;
  /** Unix seconds (default: the wall clock). */
  now?: () => number;
  /** Counts the job's flows and the capture reader's problems (also when the job fails). */
  tally?: JobTally;
}

const protocolNames: Record<number, string> = { 1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6" };

/** Processes the capture at `path` for the claimed job; rejects when the job cannot complete. */
export async function processCapture(
  store: TractorStore,
  claim: JobClaim,
  path: string,
  options: ProcessCaptureOptions = {},
): Promise<{ flows: number }> {
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const batchSize = options.batchSize ?? 2000;
  const timeout = options.flowTimeoutSeconds ?? 120;
  const labeling = flowLabeler({
    flowTimeoutSeconds: timeout,
    ...(options.labels ? { labels: options.labels } : {}),
  });
  let batch: FlowRow[] = [];
  let written = 0;
  let bytesRead = 0;
  // Batches are written in order, one at a time; the reader waits for the pending write before
  // each read (memory stays bounded however slow the database is). A failed write (the claim
  // lost, the database gone) stops the analysis and is what the job fails with.
  let writing: Promise<void> = Promise.resolve();
  let writeError: unknown;
  const stopOnError = new AbortController();
  const flush = () => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    const at = bytesRead;
    writing = writing.then(async () => {
      if (writeError !== undefined) return;
      try {
        await store.writeFlows(claim, rows, at);
        written += rows.length;
      } catch (error) {
        writeError = error;
        stopOnError.abort();
      }
    });
  };
  const onFlow = (flow: Flow) => {
    const v = labeling.verdict(flow);
    options.tally?.flow(v);
    batch.push({
      flowId: flow.id,
      clientIp: flow.srcAddress,
      clientPort: flow.srcPort,
      serverIp: flow.dstAddress,
      serverPort: flow.dstPort,
      protocol: protocolNames[flow.protocol] ?? String(flow.protocol),
      timeStart: Math.floor(flow.firstUs / 1e6),
      timeEnd: Math.floor(flow.lastUs / 1e6),
      firstMs: Math.floor(flow.firstUs / 1e3),
      lastMs: Math.floor(flow.lastUs / 1e3),
      packets: flow.totalPackets,
      bytes: flow.totalBytes,
      label: v.label,
      comment: v.comment,
      userAgent: v.userAgent ?? null,
      domainName: v.domainName ?? null,
      requests: v.requests,
      http: v.http,
    });
    if (batch.length >= batchSize) flush();
  };
  const summary = await analyzeCapture(path, {
    flowTimeoutSeconds: timeout,
    labeler: labeling.labeler,
    onProgress: (p) => {
      bytesRead = p.bytesRead;
      options.onProgress?.(p.bytesRead);
    },
    beforeRead: () => writing,
    signal: options.signal
      ? AbortSignal.any([options.signal, stopOnError.signal])
      : stopOnError.signal,
  }, onFlow);
  bytesRead = summary.bytesRead;
  options.tally?.capture(summary);
  flush();
  await writing;
  if (writeError !== undefined) throw writeError;
  if (summary.aborted) throw new Error("processing was aborted");
  if (summary.error && summary.packets === 0) {
    throw new CaptureError(
      `not a readable capture: ${summary.error.message}`,
      summary.error.offset,
      summary.error.kind,
    );
  }
  await store.finishJob(claim, {
    firstUs: summary.firstUs,
    lastUs: summary.lastUs,
    ...(summary.error ? { warning: summary.error.message } : {}),
  }, now());
  return { flows: written };
}
