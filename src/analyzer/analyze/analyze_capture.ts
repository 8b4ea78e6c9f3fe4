import { CaptureError } from "../../shared/capture/capture_error.ts";
import {
  type ByteSource,
  type CaptureFormat,
  CaptureReader,
} from "../../shared/capture/capture_reader.ts";
import { decodePacket, skipReasonNames, skipReasons } from "../../shared/capture/decode_packet.ts";
import type { PacketView } from "../../shared/capture/packet_view.ts";
import { type StreamSource, streamSource } from "../../shared/capture/stream_source.ts";
import type { Flow } from "../flows/flow.ts";
import { FlowTable, type PayloadInspector } from "../flows/flow_table.ts";
import type { FlowLabeler } from "../classify/label_flows.ts";

/** Progress of {@linkcode analyzeCapture}, reported after each buffer refill. */
export interface AnalyzeProgress {
  bytesRead: number;
  /** Size of the capture when known. */
  totalBytes: number | undefined;
  packets: number;
  flows: number;
}

/** Options of {@linkcode analyzeCapture}. */
export interface AnalyzeOptions {
  /** Flow timeout in seconds, measured from a flow's first packet (ISCX semantics). Default 120. */
  flowTimeoutSeconds?: number;
  /** A flow gap above this (µs) ends an active period. Default 1,000,000. */
  activityThresholdUs?: number;
  /** Duplicate window in µs (0 = off). Default 1000. */
  duplicateWindowUs?: number;
  /** Quiet time (µs) after which a closed TCP flow is emitted. Default 10 s. */
  closedLingerUs?: number;
  /** Label given to every flow (one-application captures as training data). */
  label?: string;
  /** First payload bytes per direction handed to `inspector`. */
  payloadBytes?: number;
  /** Optional per-flow payload inspector (signatures). */
  inspector?: PayloadInspector;
  /** Labels and sessions for each finished flow (`labelFlows()`): signatures, FTP data
   * connections, classifier. Brings its own inspector and payload budget unless those are given.
   * With `label` set, flows keep that label and the labeler's findings go to annotations. */
  labeler?: FlowLabeler;
  /** Progress callback (called often; throttle in the callback). */
  onProgress?: (progress: AnalyzeProgress) => void;
  /** Called with each decoded packet before the flow table sees it (e.g. statistics). */
  onPacket?: (view: PacketView) => void;
  /** Stops the analysis early; flows open at that point are still emitted (reason "eof") and the
   * summary says `aborted: true`. */
  signal?: AbortSignal;
  /** Size of a streamed source, when known, for progress and early truncation reports. */
  sizeBytes?: number;
  /** Awaited before each read of a streamed source: back-pressure from a slower consumer. */
  beforeRead?: () => Promise<void>;
}

/** What one capture contained. */
export interface AnalyzeSummary {
  format: CaptureFormat;
  /** Frames read from the file. */
  packets: number;
  /** Frames that went into flows. */
  flowPackets: number;
  /** Frames not usable for flows, total and by reason (not_ip, truncated, fragment …). */
  skipped: number;
  skippedByReason: Record<string, number>;
  /** pcapng blocks of a type the reader does not use (statistics, name resolution …). */
  skippedBlocks: number;
  /** IP fragments seen (first fragments also go into flows; later ones are skipped). */
  fragments: number;
  flows: number;
  maxOpenFlows: number;
  outOfOrder: number;
  captureOutOfOrder: number;
  duplicates: number;
  bytesRead: number;
  /** First and last packet time (µs), -1 when there were no packets. */
  firstUs: number;
  lastUs: number;
  /** True when `signal` stopped the analysis before the end of the capture. */
  aborted: boolean;
  /** Set when the capture was truncated or corrupt: everything before it was analyzed. */
  error: CaptureError | undefined;
}

/** Flows classified in one model call (the model's batch path pays off from a few dozen rows). */
const CLASSIFY_BATCH = 256;
/** Finished flows held back at most while a classifier batch fills. */
const SETTLE_FLOWS = 2048;

/**
 * Reads a capture (path, `-` for stdin, bytes or stream), builds bidirectional flows and hands each finished
 * flow to `onFlow` (features via `flowFeatures(flow)`). Never throws on a bad capture: the summary
 * carries the error; only an unopenable path rejects. Reusable from a Worker (TrActor jobs).
 */
export async function analyzeCapture(
  source: string | Uint8Array | ByteSource,
  options: AnalyzeOptions = {},
  onFlow: (flow: Flow) => void = () => {},
): Promise<AnalyzeSummary> {
  let file: Deno.FsFile | undefined;
  let gzip: StreamSource | undefined;
  let input: Uint8Array | ByteSource;
  let size = options.sizeBytes;
  if (source === "-") {
    input = Deno.stdin;
  } else if (typeof source === "string") {
    file = await Deno.open(source, { read: true });
    size = (await file.stat()).size;
    input = file;
    // gzip-compressed captures (tcpdump -z gzip, *.pcap.gz) are read through a decompressor.
    const magic = new Uint8Array(2);
    const n = await file.read(magic);
    await file.seek(0, Deno.SeekMode.Start);
    if (n === 2 && magic[0] === 0x1f && magic[1] === 0x8b) {
      gzip = streamSource(file.readable.pipeThrough(new DecompressionStream("gzip")));
      file = undefined; // the stream owns and closes the file
      input = gzip;
      size = undefined;
    }
  } else {
    input = source;
    if (source instanceof Uint8Array) size = source.length;
  }
  const beforeRead = options.beforeRead;
  if (beforeRead && !(input instanceof Uint8Array)) {
    const inner = input;
    input = { read: async (p) => (await beforeRead(), await inner.read(p)) };
  }
  const label = options.label ?? "";
  const labeler = options.labeler;
  const inspector = options.inspector ?? labeler?.inspector;
  const payloadBytes = options.payloadBytes ??
    (options.inspector ? undefined : labeler?.payloadBytes);
  // Finished flows held back while their classifier batch fills (see below).
  const waiting: Flow[] = [];
  const settle = () => {
    labeler?.settle();
    for (const flow of waiting) onFlow(flow);
    waiting.length = 0;
  };
  const table = new FlowTable({
    flowTimeoutUs: (options.flowTimeoutSeconds ?? 120) * 1e6,
    ...(options.activityThresholdUs !== undefined
      ? { activityThresholdUs: options.activityThresholdUs }
      : {}),
    ...(options.duplicateWindowUs !== undefined
      ? { duplicateWindowUs: options.duplicateWindowUs }
      : {}),
    ...(options.closedLingerUs !== undefined ? { closedLingerUs: options.closedLingerUs } : {}),
    ...(payloadBytes !== undefined ? { payloadBytes } : {}),
    ...(inspector !== undefined ? { inspector } : {}),
  }, (flow) => {
    if (label !== "" && flow.label === "") flow.label = label;
    if (labeler === undefined) return onFlow(flow);
    // Flows leave in table order; a flow waiting for the classifier holds back the ones after
    // it until a batch is full, so the model runs once per batch (bounded by SETTLE_FLOWS).
    const settled = labeler.defer(flow);
    if (settled && waiting.length === 0) return onFlow(flow);
    waiting.push(flow);
    if (labeler.pending >= CLASSIFY_BATCH || waiting.length >= SETTLE_FLOWS) settle();
  });
  const skippedBy = new Array<number>(skipReasonNames.length).fill(0);
  let fragments = 0;
  // First/last packet time in a typed array: a double kept in a closure variable would be boxed
  // anew on every packet.
  const span = Float64Array.of(-1, -1);
  const onProgress = options.onProgress;
  const onPacket = options.onPacket;
  const reader: CaptureReader = new CaptureReader(input, {
    ...(size !== undefined ? { sizeBytes: size } : {}),
    ...(onProgress
      ? {
        onRefill: (bytesRead: number) =>
          onProgress({
            bytesRead,
            totalBytes: size,
            packets: reader.packets,
            flows: table.stats.flowsCreated,
          }),
      }
      : {}),
  });
  const signal = options.signal;
  const abort = () => reader.stop();
  signal?.addEventListener("abort", abort);
  if (signal?.aborted) reader.stop();
  try {
    await reader.forEach((view) => {
      const ts = view.tsUs;
      if (span[0]! < 0) span[0] = ts;
      if (ts > span[1]!) span[1] = ts;
      const skip = decodePacket(view);
      if (view.isFragment) fragments++;
      if (skip !== skipReasons.NONE) {
        skippedBy[skip]!++;
        return;
      }
      onPacket?.(view);
      table.add(view);
    });
    table.flush();
    settle();
  } finally {
    signal?.removeEventListener("abort", abort);
    file?.close();
  }
  const skippedByReason: Record<string, number> = {};
  let skipped = 0;
  skippedBy.forEach((n, i) => {
    if (n > 0) skippedByReason[skipReasonNames[i]!] = n;
    skipped += n;
  });
  const s = table.stats;
  return {
    format: reader.format,
    packets: reader.packets,
    flowPackets: s.packets,
    skipped,
    skippedByReason,
    skippedBlocks: reader.skippedBlocks,
    fragments,
    flows: s.flowsEmitted,
    maxOpenFlows: s.maxOpen,
    outOfOrder: s.outOfOrder,
    captureOutOfOrder: s.captureOutOfOrder,
    duplicates: s.duplicates,
    bytesRead: reader.bytesConsumed,
    firstUs: span[0]!,
    lastUs: span[1]!,
    aborted: signal?.aborted === true,
    error: gzip?.error
      ? new CaptureError(
        `Corrupt gzip capture: ${gzip.error.message} after ${reader.bytesConsumed} decompressed bytes`,
        reader.bytesConsumed,
        "gzip",
      )
      : reader.error,
  };
}
