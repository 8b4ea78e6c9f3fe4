import { FIXED_FIELDS, FIXED_SIZE, type HttpRecord, TAIL_FIELDS } from "./record.ts";

const utf8 = new TextEncoder();

// The field tables as flat arrays: the encoder loops over indexes, with no tuple unpacking
// and no string switch per field (replay encodes every record it sends).
const FIXED_KINDS: readonly number[] = FIXED_FIELDS.map(([, kind]) =>
  ["u32", "u32be", "u16", "u64", "i8", "char"].indexOf(kind)
);
const FIXED_WIDTHS: readonly number[] = FIXED_FIELDS.map(([, , width]) => width);
const TAIL_STRING: readonly boolean[] = TAIL_FIELDS.map(([, kind]) => kind === "str");
/** The tail values of the record being encoded (this module is not re-entered meanwhile). */
const tails: (string | Uint8Array)[] = new Array(TAIL_FIELDS.length);
/** Every value of the record being encoded, in wire order (see wireValues). */
const values: unknown[] = new Array(FIXED_FIELDS.length + TAIL_FIELDS.length);
const TAIL_AT = FIXED_FIELDS.length;

/**
 * The record's values in wire order (FIXED_FIELDS, then TAIL_FIELDS) into `values`: one named
 * read per field, which the JIT compiles to a fixed offset, where `record[name]` in a loop over
 * the table probes a cache per field and costs more than the rest of the encoding. The
 * round-trip tests (every field of a full record, random records) hold this list to the tables.
 */
function wireValues(r: HttpRecord, values: unknown[]): void {
  values[0] = r.req_type;
  values[1] = r.timestamp;
  values[2] = r.remote_ip;
  values[3] = r.reserved;
  values[4] = r.request_time;
  values[5] = r.response_time;
  values[6] = r.last_response_time;
  values[7] = r.n_responses;
  values[8] = r.status;
  values[9] = r.body_bytes_sent;
  values[10] = r.supp_bits;
  values[11] = r.failed_servers;
  values[12] = r.responded_server;
  values[13] = r.geo;
  values[14] = r.method;
  values[15] = r.url;
  values[16] = r.version;
  values[17] = r.referer;
  values[18] = r.host;
  values[19] = r.accept;
  values[20] = r.accept_language;
  values[21] = r.accept_encoding;
  values[22] = r.forwarded_for;
  values[23] = r.cookie;
  values[24] = r.http_user_agent;
  values[25] = r.http_x_requested_with;
  values[26] = r.upstream_addr;
  values[27] = r.upstream_statuses;
  values[28] = r.upstream_durations;
  values[29] = r.request;
  values[30] = r.qrator_request_id;
  values[31] = r.server_port;
  values[32] = r.remote_port;
  values[33] = r.connection_requests;
  values[34] = r.msec;
  values[35] = r.ssl_cipher;
  values[36] = r.ssl_ciphers;
  values[37] = r.reserved_a;
  values[38] = r.reserved_b;
  values[39] = r.sent_http_location;
  values[40] = r.sent_http_content_type;
  values[41] = r.headers;
  values[42] = r.body;
  values[43] = r.reserved_c;
  values[44] = r.request_length;
  values[45] = r.bytes_sent;
  values[46] = r.upstream_bytes_sent;
  values[47] = r.upstream_bytes_received;
}

/** The string as UTF-8 bytes, or the string itself when it is ASCII (written without copying). */
function bytesOf(value: string): string | Uint8Array {
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) >= 0x80) return utf8.encode(value);
  }
  return value;
}

function put(out: Uint8Array, at: number, value: string | Uint8Array, limit: number): void {
  if (typeof value !== "string") {
    out.set(value.length > limit ? value.subarray(0, limit) : value, at);
    return;
  }
  const n = Math.min(value.length, limit);
  for (let i = 0; i < n; i++) out[at + i] = value.charCodeAt(i);
}

function putU32(out: Uint8Array, at: number, value: number): void {
  out[at] = value;
  out[at + 1] = value >>> 8;
  out[at + 2] = value >>> 16;
  out[at + 3] = value >>> 24;
}

/**
 * Encodes a record into the wire body. char[N] values longer than N bytes are cut at N (what a
 * proxy would send); `remote_addr` is appended as the extension field only when set. ASCII
 * values (nearly all) are written byte by byte: a TextEncoder call per field would dominate
 * replay, which encodes every record it sends.
 */
export function encodeRecord(record: HttpRecord): Uint8Array {
  const out = new Uint8Array(encodedSize(record));
  writeBody(record, out, 0);
  return out;
}

/**
 * Encodes a record into `out` at `offset` (a batch of bodies in one buffer, without an
 * allocation per record) and returns the offset after it, or -1 when it does not fit (nothing
 * is written then). The bytes are those of {@linkcode encodeRecord}.
 */
export function encodeRecordInto(record: HttpRecord, out: Uint8Array, offset: number): number {
  const size = encodedSize(record);
  if (offset + size > out.length) return -1;
  writeBody(record, out, offset);
  return offset + size;
}

/** The body's size; leaves the values in `values`, the tail strings (bytes when not ASCII) in `tails`. */
function encodedSize(record: HttpRecord): number {
  wireValues(record, values);
  let size = FIXED_SIZE;
  for (let f = 0; f < TAIL_FIELDS.length; f++) {
    size += 4;
    if (!TAIL_STRING[f]) continue;
    const value = values[TAIL_AT + f] as string;
    const bytes = value.length === 0 ? value : bytesOf(value);
    tails[f] = bytes;
    size += bytes.length;
  }
  if (record.remote_addr) size += 4 + bytesOf(record.remote_addr).length;
  return size;
}

/** Writes the body sized by the encodedSize() call just before. */
function writeBody(record: HttpRecord, out: Uint8Array, offset: number): void {
  // char[N] fields are NUL-padded: the fixed part starts from zeros even in a reused buffer.
  out.fill(0, offset, offset + FIXED_SIZE);
  let pos = offset;
  for (let f = 0; f < FIXED_FIELDS.length; f++) {
    const value = values[f];
    switch (FIXED_KINDS[f]) {
      case 0: // u32
        putU32(out, pos, value as number);
        break;
      case 1: { // u32be
        const n = value as number;
        out[pos] = n >>> 24;
        out[pos + 1] = n >>> 16;
        out[pos + 2] = n >>> 8;
        out[pos + 3] = n;
        break;
      }
      case 2: // u16
        out[pos] = value as number;
        out[pos + 1] = (value as number) >>> 8;
        break;
      case 3: // u64
        if (value !== 0n) {
          new DataView(out.buffer, out.byteOffset).setBigUint64(pos, value as bigint, true);
        }
        break;
      case 4: // i8
        out[pos] = value as number;
        break;
      case 5: // char
        if ((value as string).length > 0) put(out, pos, bytesOf(value as string), FIXED_WIDTHS[f]!);
        break;
    }
    pos += FIXED_WIDTHS[f]!;
  }
  for (let f = 0; f < TAIL_FIELDS.length; f++) {
    if (!TAIL_STRING[f]) {
      putU32(out, pos, values[TAIL_AT + f] as number);
      pos += 4;
      continue;
    }
    const bytes = tails[f]!;
    putU32(out, pos, bytes.length);
    put(out, pos + 4, bytes, bytes.length);
    pos += 4 + bytes.length;
  }
  if (record.remote_addr) {
    const extension = bytesOf(record.remote_addr);
    putU32(out, pos, extension.length);
    put(out, pos + 4, extension, extension.length);
  }
}
