/**
 * Fuzz target: the record codec (`decodeRecord`, `decodeHeader`). Properties: neither throws;
 * a rejection names a known reason; an accepted record re-encodes to bytes that decode to the
 * same record; an accepted header is a u32 domain id that round-trips.
 * @module
 */

import {
  decodeHeader,
  decodeRecord,
  emptyRecord,
  encodeHeader,
  encodeRecord,
  FIXED_FIELDS,
  FIXED_SIZE,
  type HttpRecord,
  type RejectReason,
  TAIL_FIELDS,
  toPlainRecord,
} from "../../src/sensor/wire/mod.ts";
import { concat, mutateBytes, randomString } from "./_mutate.ts";
import { createRng, type Rng } from "./_random.ts";
import { type FuzzTarget, property } from "./_target.ts";

const RECORD = 0;
const HEADER = 1;
/** Every reason `decodeRecord` may give; the type check keeps this in step with the codec. */
const REASONS: Readonly<Record<RejectReason, true>> = {
  short_body: true,
  bad_length: true,
  bad_utf8: true,
  trailing_bytes: true,
  oversized: true,
  bad_remote_addr: true,
};
const ascii = new TextEncoder();

function randomRecord(rng: Rng): HttpRecord {
  const r = emptyRecord() as unknown as Record<string, unknown>;
  for (const [name, kind, size] of FIXED_FIELDS) {
    if (rng.chance(0.3)) continue;
    switch (kind) {
      case "u32":
      case "u32be":
        r[name] = rng.chance(0.3) ? rng.pick([0, 1, 0xffffffff]) : rng.next();
        break;
      case "u16":
        r[name] = rng.next() & 0xffff;
        break;
      case "u64":
        r[name] = (BigInt(rng.next()) << 32n) | BigInt(rng.next());
        break;
      case "i8":
        r[name] = (rng.next() & 0xff) - 128;
        break;
      case "char":
        // Sometimes longer than the field, so the encoder cuts it (maybe inside a character).
        r[name] = randomString(rng, rng.chance(0.2) ? size + 4 : size).replaceAll("\0", "");
        break;
    }
  }
  for (const [name, kind] of TAIL_FIELDS) {
    if (rng.chance(0.4)) continue;
    r[name] = kind === "u32" ? rng.next() : randomString(rng, rng.chance(0.05) ? 2000 : 40);
  }
  if (rng.chance(0.3)) r.remote_addr = rng.pick(["2001:db8::1", "198.51.100.7", "", "x"]);
  return r as unknown as HttpRecord;
}

/** Offsets of the tail length prefixes of an encoded record (targets for length edits). */
function prefixOffsets(bytes: Uint8Array): number[] {
  const out: number[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let pos = FIXED_SIZE;
  for (const [, kind] of TAIL_FIELDS) {
    if (pos + 4 > bytes.length) return out;
    if (kind === "str") out.push(pos);
    pos += 4 + (kind === "str" ? view.getUint32(pos, true) : 0);
  }
  if (pos + 4 <= bytes.length) out.push(pos);
  return out;
}

/**
 * Valid bodies to mutate, built once from a fixed seed: encoding a fresh random record costs
 * ~20× more than decoding one, so most inputs start from this pool.
 */
const POOL: Uint8Array[] = (() => {
  const rng = createRng(0x5eed);
  return Array.from({ length: 512 }, () => encodeRecord(randomRecord(rng)));
})();

function generateBody(rng: Rng): Uint8Array {
  const mode = rng.below(10);
  if (mode === 0) {
    // Random bytes, often around the fixed size.
    const n = rng.chance(0.5) ? rng.below(64) : FIXED_SIZE - 8 + rng.below(200);
    return rng.bytes(n);
  }
  const valid = rng.chance(0.02) ? encodeRecord(randomRecord(rng)) : rng.pick(POOL);
  if (mode === 1) return valid.slice();
  if (mode <= 3) {
    // Length-prefix edits: off by one, huge, zero, or the remaining size exactly.
    const out = valid.slice();
    const view = new DataView(out.buffer);
    const offsets = prefixOffsets(out);
    const edits = 1 + rng.below(2);
    for (let k = 0; k < edits && offsets.length > 0; k++) {
      const at = rng.pick(offsets);
      const old = view.getUint32(at, true);
      const value = rng.pick([
        old + 1,
        old - 1,
        0,
        0xffffffff,
        0x80000000,
        out.length - at - 4,
        out.length - at - 3,
      ]);
      view.setUint32(at, value >>> 0, true);
    }
    return out;
  }
  if (mode === 4) {
    // Truncation anywhere, or a few bytes appended (trailing bytes / remote_addr extension).
    return rng.chance(0.5)
      ? valid.subarray(0, rng.below(valid.length + 1)).slice()
      : concat([valid, rng.bytes(1 + rng.below(8))]);
  }
  // Byte mutations, mostly in the variable part where lengths and UTF-8 live.
  return mutateBytes(valid, rng, 4, rng.chance(0.7) ? FIXED_SIZE - 200 : 0);
}

function generateHeader(rng: Rng): Uint8Array {
  const base = rng.chance(0.7)
    ? ascii.encode(
      rng.pick([
        `http:${rng.next()}:`,
        `http:${rng.next()}`,
        "http:4294967295:",
        "http:4294967296:",
        "http:9999999999:",
        "http::",
        "http:0:",
        "http:01:",
      ]),
    )
    : rng.bytes(rng.below(24));
  return rng.chance(0.5) ? mutateBytes(base, rng, 2) : base;
}

function checkBody(body: Uint8Array): void {
  const result = decodeRecord(body);
  if (!result.ok) {
    property(Object.hasOwn(REASONS, result.reason), `unknown reason ${result.reason}`);
    property(
      typeof result.detail === "string" && result.detail !== "",
      "rejection without detail",
    );
    return;
  }
  // Reading every field must not throw (strings decode lazily).
  const plain = toPlainRecord(result.record);
  const again = decodeRecord(encodeRecord(plain));
  property(again.ok, () => `re-encoded record rejected: ${!again.ok && again.detail}`);
  const back = toPlainRecord(again.record) as unknown as Record<string, unknown>;
  const first = plain as unknown as Record<string, unknown>;
  for (const key of new Set([...Object.keys(first), ...Object.keys(back)])) {
    property(
      Object.is(first[key], back[key]),
      () => `field ${key} changed on re-encode: ${String(first[key])} → ${String(back[key])}`,
    );
  }
}

function checkHeader(frame: Uint8Array): void {
  const id = decodeHeader(frame);
  if (id === undefined) return;
  property(Number.isInteger(id) && id >= 0 && id <= 0xffffffff, `header id ${id} is not a u32`);
  property(decodeHeader(encodeHeader(id)) === id, `header id ${id} does not round-trip`);
}

/** The wire codec target. */
export function wireTarget(): FuzzTarget {
  const kinds = { record: 0, header: 0 };
  return {
    name: "wire",
    kinds,
    generate(rng) {
      const header = rng.chance(0.1);
      const payload = header ? generateHeader(rng) : generateBody(rng);
      const input = new Uint8Array(1 + payload.length);
      input[0] = header ? HEADER : RECORD;
      input.set(payload, 1);
      return input;
    },
    check(input) {
      const payload = input.subarray(1);
      if (input[0] === HEADER) {
        kinds.header++;
        checkHeader(payload);
      } else {
        kinds.record++;
        checkBody(payload);
      }
    },
  };
}
