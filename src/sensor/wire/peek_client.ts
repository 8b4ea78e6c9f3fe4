import { FIXED_SIZE, TAIL_FIELDS } from "./record.ts";

const TAIL_IS_STRING: readonly boolean[] = TAIL_FIELDS.map(([, kind]) => kind === "str");
/** Offset of `remote_ip` (u32, network order) in the fixed part. */
const REMOTE_IP_AT = 8;
const latin1 = new TextDecoder("latin1");

/**
 * The client of an encoded record without decoding it: the `remote_addr` extension's text as
 * sent (not yet validated or normalised) when the body has one, else `remote_ip` as a number;
 * undefined when the body is too malformed to tell (the decoder will reject it). The ingest
 * thread shards records to workers by client with it and leaves decoding to the worker.
 */
export function peekClient(body: Uint8Array): number | string | undefined {
  const length = body.length;
  if (length < FIXED_SIZE) return undefined;
  let pos = FIXED_SIZE;
  for (let f = 0; f < TAIL_IS_STRING.length; f++) {
    if (pos + 4 > length) return undefined;
    pos += 4;
    if (TAIL_IS_STRING[f]) pos += readU32(body, pos - 4);
  }
  if (pos > length) return undefined;
  if (pos + 4 <= length) {
    const size = readU32(body, pos);
    if (size > length - pos - 4) return undefined;
    // An address is ASCII; other bytes make it invalid whatever the decoding.
    if (size > 0) return latin1.decode(body.subarray(pos + 4, pos + 4 + size));
  }
  return (body[REMOTE_IP_AT]! << 24 | body[REMOTE_IP_AT + 1]! << 16 |
    body[REMOTE_IP_AT + 2]! << 8 | body[REMOTE_IP_AT + 3]!) >>> 0;
}

function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | bytes[at + 1]! << 8 | bytes[at + 2]! << 16 | bytes[at + 3]! << 24) >>> 0;
}
