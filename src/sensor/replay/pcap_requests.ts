import {
  CaptureReader,
  decodePacket,
  formatAddress,
  type PacketView,
} from "../../shared/capture/mod.ts";
import { baseRecord, setClient, setTime, type TimedRecord } from "./expand_requests.ts";

/** Requests found in a capture, plus what could not be read. */
export interface PcapRequests {
  records: TimedRecord[];
  problems: string[];
}

const TCP = 6;
const METHOD = /^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH|CONNECT|TRACE|PROPFIND) /;
const MAX_STREAM = 1 << 20;

interface Stream {
  client: string;
  port: number;
  serverPort: number;
  /** Next expected sequence number; -1 before the first payload. */
  next: number;
  /** Bytes not yet parsed; `base` is the stream offset of buffer[0]. */
  buffer: Uint8Array;
  base: number;
  /** Stream offset where each packet's bytes begin, with its capture time (µs). */
  marks: { at: number; ts: number }[];
  /** Out-of-order segments by sequence number. */
  pending: Map<number, { data: Uint8Array; ts: number }>;
  /** Body bytes still to skip after the last request head. */
  skip: number;
  dead: boolean;
}

const latin1 = new TextDecoder("latin1");

function append(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function headEnd(buf: Uint8Array): number {
  for (let i = 3; i < buf.length; i++) {
    if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) return i + 1;
  }
  return -1;
}

/** Parses complete request heads from the stream's buffer into records. */
function drain(stream: Stream, domain: number, out: TimedRecord[]): void {
  for (;;) {
    if (stream.skip > 0) {
      const n = Math.min(stream.skip, stream.buffer.length);
      stream.buffer = stream.buffer.subarray(n);
      stream.base += n;
      stream.skip -= n;
      if (stream.skip > 0) return;
    }
    // The request's time is that of the packet carrying its first byte.
    while (stream.marks.length > 1 && stream.marks[1]!.at <= stream.base) stream.marks.shift();
    const firstTs = stream.marks[0]?.ts ?? 0;
    const end = headEnd(stream.buffer);
    if (end < 0) {
      if (stream.buffer.length > 65536) stream.dead = true; // not HTTP, or a runaway head
      return;
    }
    const head = latin1.decode(stream.buffer.subarray(0, end));
    stream.buffer = stream.buffer.subarray(end);
    stream.base += end;
    const lines = head.split("\r\n");
    const [method, url, version] = lines[0]!.split(" ");
    if (!method || !url || !version?.startsWith("HTTP/1.")) {
      stream.dead = true;
      return;
    }
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) {
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
    }
    const record = baseRecord();
    record.status = 0;
    record.method = method;
    record.url = url;
    record.version = version;
    record.request = lines[0]!;
    record.host = headers.get("host") ?? "";
    record.http_user_agent = headers.get("user-agent") ?? "";
    record.referer = headers.get("referer") ?? "";
    record.accept = headers.get("accept") ?? "";
    record.accept_language = headers.get("accept-language") ?? "";
    record.accept_encoding = headers.get("accept-encoding") ?? "";
    record.cookie = headers.get("cookie") ?? "";
    record.forwarded_for = headers.get("x-forwarded-for") ?? "";
    record.http_x_requested_with = headers.get("x-requested-with") ?? "";
    record.headers = lines.slice(1).filter((l) => l !== "").join("\n");
    record.remote_port = String(stream.port);
    record.server_port = String(stream.serverPort);
    record.request_length = String(end);
    setClient(record, stream.client);
    const t = firstTs / 1e6;
    setTime(record, Math.round(t * 1000) / 1000);
    out.push({ domain, t, record });
    const length = Number(headers.get("content-length") ?? "0");
    stream.skip = Number.isFinite(length) && length > 0 ? length : 0;
  }
}

function feed(
  stream: Stream,
  seq: number,
  data: Uint8Array,
  ts: number,
  domain: number,
  out: TimedRecord[],
) {
  if (stream.next < 0) stream.next = seq;
  const delta = (seq - stream.next) | 0;
  if (delta > 0) {
    // A gap: keep the segment until the bytes before it arrive (bounded).
    if (stream.pending.size < 1024) stream.pending.set(seq >>> 0, { data, ts });
    return;
  }
  if (-delta >= data.length) return; // retransmission of bytes already taken
  let chunk = data.subarray(-delta);
  let chunkTs = ts;
  for (;;) {
    stream.marks.push({ at: stream.base + stream.buffer.length, ts: chunkTs });
    stream.buffer = append(stream.buffer, chunk);
    stream.next = (stream.next + chunk.length) >>> 0;
    const queued = stream.pending.get(stream.next);
    if (!queued) break;
    stream.pending.delete(stream.next);
    chunk = queued.data;
    chunkTs = queued.ts;
  }
  if (stream.buffer.length > MAX_STREAM) stream.dead = true;
  else drain(stream, domain, out);
}

/**
 * Reassembles the client→server side of every TCP connection in a pcap/pcapng capture and
 * reads the HTTP/1.x requests in it: request line and headers become a record, the client
 * address comes from the packets, the time from the packet that carried the request's first
 * byte. Bodies are skipped by Content-Length; streams that are not HTTP are ignored.
 */
export async function pcapRequests(path: string, domain: number): Promise<PcapRequests> {
  const records: TimedRecord[] = [];
  const problems: string[] = [];
  const streams = new Map<string, Stream>();
  const file = await Deno.open(path);
  try {
    const reader = new CaptureReader(file);
    await reader.forEach((view: PacketView) => {
      if (decodePacket(view) !== 0 || view.protocol !== TCP || view.payloadCaptured === 0) return;
      const src = formatAddress(view.src, view.ipVersion);
      const dst = formatAddress(view.dst, view.ipVersion);
      const key = `${src}|${view.srcPort}|${dst}|${view.dstPort}`;
      const data = view.buf.slice(
        view.payloadOffset,
        view.payloadOffset + view.payloadCaptured,
      );
      let stream = streams.get(key);
      if (!stream) {
        // Only the side that opens with a request line is a client stream.
        if (!METHOD.test(latin1.decode(data.subarray(0, 16)))) return;
        stream = {
          client: src,
          port: view.srcPort,
          serverPort: view.dstPort,
          next: -1,
          buffer: new Uint8Array(0),
          base: 0,
          marks: [],
          pending: new Map(),
          skip: 0,
          dead: false,
        };
        streams.set(key, stream);
      }
      if (stream.dead) return;
      feed(stream, view.tcpSeq >>> 0, data, view.tsUs, domain, records);
    });
    if (reader.error) problems.push(reader.error.message);
  } finally {
    file.close();
  }
  return { records, problems };
}
