/**
 * CurveZMQ MESSAGE boxes: NaCl's crypto_secretbox (XSalsa20-Poly1305) with a session key and a
 * fixed 16-byte nonce prefix ("CurveZMQMESSAGEC"/"…S"), so XSalsa20's HSalsa20 step runs once
 * per direction and each frame costs only Salsa20 blocks and Poly1305. Works in place, with no
 * allocation per frame other than an opened plaintext; byte-exact with tweetnacl and libsodium.
 * Poly1305 is tweetnacl-js's (public domain, 13-bit limbs), its state kept in module scratch.
 * @module
 */

const SIGMA0 = 0x61707865;
const SIGMA1 = 0x3320646e;
const SIGMA2 = 0x79622d32;
const SIGMA3 = 0x6b206574;

/** One Salsa20 keystream block (64 bytes), reused by every box: the runtime is single-threaded. */
const ks = new Uint8Array(64);
/** Poly1305 state: r and h in 13-bit limbs, pad, the final reduction, a padded last block. */
const pr = new Uint16Array(10);
const ph = new Uint16Array(10);
const pad = new Uint16Array(8);
const pg = new Uint16Array(10);
const last = new Uint8Array(16);
const tag = new Uint8Array(16);

function u32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

/**
 * The Salsa20/20 core. With `feed` it writes the keystream block for (key, nonce, counter) to
 * `ks`; without, HSalsa20's eight output words (key = subkey, n0..n3 = 16-byte input) to `hs`.
 */
function core(
  k: Uint32Array,
  n0: number,
  n1: number,
  n2: number,
  n3: number,
  feed: boolean,
  hs?: Uint32Array,
): void {
  const j0 = SIGMA0, j1 = k[0]!, j2 = k[1]!, j3 = k[2]!, j4 = k[3]!, j5 = SIGMA1;
  const j6 = n0, j7 = n1, j8 = n2, j9 = n3, j10 = SIGMA2;
  const j11 = k[4]!, j12 = k[5]!, j13 = k[6]!, j14 = k[7]!, j15 = SIGMA3;
  let x0 = j0, x1 = j1, x2 = j2, x3 = j3, x4 = j4, x5 = j5, x6 = j6, x7 = j7;
  let x8 = j8, x9 = j9, x10 = j10, x11 = j11, x12 = j12, x13 = j13, x14 = j14, x15 = j15;
  let u: number;
  for (let i = 0; i < 20; i += 2) {
    u = (x0 + x12) | 0, x4 ^= (u << 7) | (u >>> 25);
    u = (x4 + x0) | 0, x8 ^= (u << 9) | (u >>> 23);
    u = (x8 + x4) | 0, x12 ^= (u << 13) | (u >>> 19);
    u = (x12 + x8) | 0, x0 ^= (u << 18) | (u >>> 14);
    u = (x5 + x1) | 0, x9 ^= (u << 7) | (u >>> 25);
    u = (x9 + x5) | 0, x13 ^= (u << 9) | (u >>> 23);
    u = (x13 + x9) | 0, x1 ^= (u << 13) | (u >>> 19);
    u = (x1 + x13) | 0, x5 ^= (u << 18) | (u >>> 14);
    u = (x10 + x6) | 0, x14 ^= (u << 7) | (u >>> 25);
    u = (x14 + x10) | 0, x2 ^= (u << 9) | (u >>> 23);
    u = (x2 + x14) | 0, x6 ^= (u << 13) | (u >>> 19);
    u = (x6 + x2) | 0, x10 ^= (u << 18) | (u >>> 14);
    u = (x15 + x11) | 0, x3 ^= (u << 7) | (u >>> 25);
    u = (x3 + x15) | 0, x7 ^= (u << 9) | (u >>> 23);
    u = (x7 + x3) | 0, x11 ^= (u << 13) | (u >>> 19);
    u = (x11 + x7) | 0, x15 ^= (u << 18) | (u >>> 14);
    u = (x0 + x3) | 0, x1 ^= (u << 7) | (u >>> 25);
    u = (x1 + x0) | 0, x2 ^= (u << 9) | (u >>> 23);
    u = (x2 + x1) | 0, x3 ^= (u << 13) | (u >>> 19);
    u = (x3 + x2) | 0, x0 ^= (u << 18) | (u >>> 14);
    u = (x5 + x4) | 0, x6 ^= (u << 7) | (u >>> 25);
    u = (x6 + x5) | 0, x7 ^= (u << 9) | (u >>> 23);
    u = (x7 + x6) | 0, x4 ^= (u << 13) | (u >>> 19);
    u = (x4 + x7) | 0, x5 ^= (u << 18) | (u >>> 14);
    u = (x10 + x9) | 0, x11 ^= (u << 7) | (u >>> 25);
    u = (x11 + x10) | 0, x8 ^= (u << 9) | (u >>> 23);
    u = (x8 + x11) | 0, x9 ^= (u << 13) | (u >>> 19);
    u = (x9 + x8) | 0, x10 ^= (u << 18) | (u >>> 14);
    u = (x15 + x14) | 0, x12 ^= (u << 7) | (u >>> 25);
    u = (x12 + x15) | 0, x13 ^= (u << 9) | (u >>> 23);
    u = (x13 + x12) | 0, x14 ^= (u << 13) | (u >>> 19);
    u = (x14 + x13) | 0, x15 ^= (u << 18) | (u >>> 14);
  }
  if (!feed) {
    const o = hs!;
    o[0] = x0, o[1] = x5, o[2] = x10, o[3] = x15, o[4] = x6, o[5] = x7, o[6] = x8, o[7] = x9;
    return;
  }
  put(0, x0 + j0), put(4, x1 + j1), put(8, x2 + j2), put(12, x3 + j3);
  put(16, x4 + j4), put(20, x5 + j5), put(24, x6 + j6), put(28, x7 + j7);
  put(32, x8 + j8), put(36, x9 + j9), put(40, x10 + j10), put(44, x11 + j11);
  put(48, x12 + j12), put(52, x13 + j13), put(56, x14 + j14), put(60, x15 + j15);
}

function put(at: number, v: number): void {
  ks[at] = v;
  ks[at + 1] = v >>> 8;
  ks[at + 2] = v >>> 16;
  ks[at + 3] = v >>> 24;
}

/** Poly1305 key (r, pad) from ks[0..32), h = 0. */
function polyInit(): void {
  const k = ks;
  const t0 = k[0]! | (k[1]! << 8);
  const t1 = k[2]! | (k[3]! << 8);
  const t2 = k[4]! | (k[5]! << 8);
  const t3 = k[6]! | (k[7]! << 8);
  const t4 = k[8]! | (k[9]! << 8);
  const t5 = k[10]! | (k[11]! << 8);
  const t6 = k[12]! | (k[13]! << 8);
  const t7 = k[14]! | (k[15]! << 8);
  pr[0] = t0 & 0x1fff;
  pr[1] = ((t0 >>> 13) | (t1 << 3)) & 0x1fff;
  pr[2] = ((t1 >>> 10) | (t2 << 6)) & 0x1f03;
  pr[3] = ((t2 >>> 7) | (t3 << 9)) & 0x1fff;
  pr[4] = ((t3 >>> 4) | (t4 << 12)) & 0x00ff;
  pr[5] = (t4 >>> 1) & 0x1ffe;
  pr[6] = ((t4 >>> 14) | (t5 << 2)) & 0x1fff;
  pr[7] = ((t5 >>> 11) | (t6 << 5)) & 0x1f81;
  pr[8] = ((t6 >>> 8) | (t7 << 8)) & 0x1fff;
  pr[9] = (t7 >>> 5) & 0x007f;
  for (let i = 0; i < 8; i++) pad[i] = k[16 + 2 * i]! | (k[17 + 2 * i]! << 8);
  ph.fill(0);
}

/** Poly1305 over whole 16-byte blocks of m[mpos, mpos + bytes). */
function polyBlocks(m: Uint8Array, mpos: number, bytes: number, hibit: number): void {
  let h0 = ph[0]!, h1 = ph[1]!, h2 = ph[2]!, h3 = ph[3]!, h4 = ph[4]!;
  let h5 = ph[5]!, h6 = ph[6]!, h7 = ph[7]!, h8 = ph[8]!, h9 = ph[9]!;
  const r0 = pr[0]!, r1 = pr[1]!, r2 = pr[2]!, r3 = pr[3]!, r4 = pr[4]!;
  const r5 = pr[5]!, r6 = pr[6]!, r7 = pr[7]!, r8 = pr[8]!, r9 = pr[9]!;
  const s1 = 5 * r1, s2 = 5 * r2, s3 = 5 * r3, s4 = 5 * r4, s5 = 5 * r5;
  const s6 = 5 * r6, s7 = 5 * r7, s8 = 5 * r8, s9 = 5 * r9;
  let t0, t1, t2, t3, t4, t5, t6, t7, c;
  let d0, d1, d2, d3, d4, d5, d6, d7, d8, d9;
  while (bytes >= 16) {
    t0 = m[mpos]! | (m[mpos + 1]! << 8);
    h0 += t0 & 0x1fff;
    t1 = m[mpos + 2]! | (m[mpos + 3]! << 8);
    h1 += ((t0 >>> 13) | (t1 << 3)) & 0x1fff;
    t2 = m[mpos + 4]! | (m[mpos + 5]! << 8);
    h2 += ((t1 >>> 10) | (t2 << 6)) & 0x1fff;
    t3 = m[mpos + 6]! | (m[mpos + 7]! << 8);
    h3 += ((t2 >>> 7) | (t3 << 9)) & 0x1fff;
    t4 = m[mpos + 8]! | (m[mpos + 9]! << 8);
    h4 += ((t3 >>> 4) | (t4 << 12)) & 0x1fff;
    h5 += (t4 >>> 1) & 0x1fff;
    t5 = m[mpos + 10]! | (m[mpos + 11]! << 8);
    h6 += ((t4 >>> 14) | (t5 << 2)) & 0x1fff;
    t6 = m[mpos + 12]! | (m[mpos + 13]! << 8);
    h7 += ((t5 >>> 11) | (t6 << 5)) & 0x1fff;
    t7 = m[mpos + 14]! | (m[mpos + 15]! << 8);
    h8 += ((t6 >>> 8) | (t7 << 8)) & 0x1fff;
    h9 += (t7 >>> 5) | hibit;

    d0 = h0 * r0 + h1 * s9 + h2 * s8 + h3 * s7 + h4 * s6;
    c = d0 >>> 13;
    d0 &= 0x1fff;
    d0 += h5 * s5 + h6 * s4 + h7 * s3 + h8 * s2 + h9 * s1;
    c += d0 >>> 13;
    d0 &= 0x1fff;

    d1 = c + h0 * r1 + h1 * r0 + h2 * s9 + h3 * s8 + h4 * s7;
    c = d1 >>> 13;
    d1 &= 0x1fff;
    d1 += h5 * s6 + h6 * s5 + h7 * s4 + h8 * s3 + h9 * s2;
    c += d1 >>> 13;
    d1 &= 0x1fff;

    d2 = c + h0 * r2 + h1 * r1 + h2 * r0 + h3 * s9 + h4 * s8;
    c = d2 >>> 13;
    d2 &= 0x1fff;
    d2 += h5 * s7 + h6 * s6 + h7 * s5 + h8 * s4 + h9 * s3;
    c += d2 >>> 13;
    d2 &= 0x1fff;

    d3 = c + h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s9;
    c = d3 >>> 13;
    d3 &= 0x1fff;
    d3 += h5 * s8 + h6 * s7 + h7 * s6 + h8 * s5 + h9 * s4;
    c += d3 >>> 13;
    d3 &= 0x1fff;

    d4 = c + h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0;
    c = d4 >>> 13;
    d4 &= 0x1fff;
    d4 += h5 * s9 + h6 * s8 + h7 * s7 + h8 * s6 + h9 * s5;
    c += d4 >>> 13;
    d4 &= 0x1fff;

    d5 = c + h0 * r5 + h1 * r4 + h2 * r3 + h3 * r2 + h4 * r1;
    c = d5 >>> 13;
    d5 &= 0x1fff;
    d5 += h5 * r0 + h6 * s9 + h7 * s8 + h8 * s7 + h9 * s6;
    c += d5 >>> 13;
    d5 &= 0x1fff;

    d6 = c + h0 * r6 + h1 * r5 + h2 * r4 + h3 * r3 + h4 * r2;
    c = d6 >>> 13;
    d6 &= 0x1fff;
    d6 += h5 * r1 + h6 * r0 + h7 * s9 + h8 * s8 + h9 * s7;
    c += d6 >>> 13;
    d6 &= 0x1fff;

    d7 = c + h0 * r7 + h1 * r6 + h2 * r5 + h3 * r4 + h4 * r3;
    c = d7 >>> 13;
    d7 &= 0x1fff;
    d7 += h5 * r2 + h6 * r1 + h7 * r0 + h8 * s9 + h9 * s8;
    c += d7 >>> 13;
    d7 &= 0x1fff;

    d8 = c + h0 * r8 + h1 * r7 + h2 * r6 + h3 * r5 + h4 * r4;
    c = d8 >>> 13;
    d8 &= 0x1fff;
    d8 += h5 * r3 + h6 * r2 + h7 * r1 + h8 * r0 + h9 * s9;
    c += d8 >>> 13;
    d8 &= 0x1fff;

    d9 = c + h0 * r9 + h1 * r8 + h2 * r7 + h3 * r6 + h4 * r5;
    c = d9 >>> 13;
    d9 &= 0x1fff;
    d9 += h5 * r4 + h6 * r3 + h7 * r2 + h8 * r1 + h9 * r0;
    c += d9 >>> 13;
    d9 &= 0x1fff;

    c = ((c << 2) + c) | 0;
    c = (c + d0) | 0;
    d0 = c & 0x1fff;
    c = c >>> 13;
    d1 += c;

    h0 = d0, h1 = d1, h2 = d2, h3 = d3, h4 = d4;
    h5 = d5, h6 = d6, h7 = d7, h8 = d8, h9 = d9;
    mpos += 16;
    bytes -= 16;
  }
  ph[0] = h0, ph[1] = h1, ph[2] = h2, ph[3] = h3, ph[4] = h4;
  ph[5] = h5, ph[6] = h6, ph[7] = h7, ph[8] = h8, ph[9] = h9;
}

/** Poly1305 of m[mpos, mpos + bytes) under the key polyInit() loaded; the tag goes to `tag`. */
function polyTag(m: Uint8Array, mpos: number, bytes: number): void {
  const whole = bytes & ~15;
  polyBlocks(m, mpos, whole, 1 << 11);
  const rest = bytes - whole;
  if (rest > 0) {
    last.fill(0);
    last.set(m.subarray(mpos + whole, mpos + bytes));
    last[rest] = 1;
    polyBlocks(last, 0, 16, 0);
  }
  const h = ph, g = pg;
  let c = h[1]! >>> 13;
  h[1]! &= 0x1fff;
  for (let i = 2; i < 10; i++) {
    h[i]! += c;
    c = h[i]! >>> 13;
    h[i]! &= 0x1fff;
  }
  h[0]! += c * 5;
  c = h[0]! >>> 13;
  h[0]! &= 0x1fff;
  h[1]! += c;
  c = h[1]! >>> 13;
  h[1]! &= 0x1fff;
  h[2]! += c;

  g[0] = h[0]! + 5;
  c = g[0]! >>> 13;
  g[0]! &= 0x1fff;
  for (let i = 1; i < 10; i++) {
    g[i] = h[i]! + c;
    c = g[i]! >>> 13;
    g[i]! &= 0x1fff;
  }
  g[9]! -= 1 << 13;

  let mask = (c ^ 1) - 1;
  for (let i = 0; i < 10; i++) g[i]! &= mask;
  mask = ~mask;
  for (let i = 0; i < 10; i++) h[i] = (h[i]! & mask) | g[i]!;

  h[0] = (h[0]! | (h[1]! << 13)) & 0xffff;
  h[1] = ((h[1]! >>> 3) | (h[2]! << 10)) & 0xffff;
  h[2] = ((h[2]! >>> 6) | (h[3]! << 7)) & 0xffff;
  h[3] = ((h[3]! >>> 9) | (h[4]! << 4)) & 0xffff;
  h[4] = ((h[4]! >>> 12) | (h[5]! << 1) | (h[6]! << 14)) & 0xffff;
  h[5] = ((h[6]! >>> 2) | (h[7]! << 11)) & 0xffff;
  h[6] = ((h[7]! >>> 5) | (h[8]! << 8)) & 0xffff;
  h[7] = ((h[8]! >>> 8) | (h[9]! << 5)) & 0xffff;

  let f = h[0]! + pad[0]!;
  h[0] = f & 0xffff;
  for (let i = 1; i < 8; i++) {
    f = (((h[i]! + pad[i]!) | 0) + (f >>> 16)) | 0;
    h[i] = f & 0xffff;
  }
  for (let i = 0; i < 8; i++) {
    tag[2 * i] = h[i]!;
    tag[2 * i + 1] = h[i]! >>> 8;
  }
}

/**
 * One direction's MESSAGE boxes. A box is laid out as on the wire after the command name:
 * 8-byte short nonce (the last 8 of the 24-byte nonce), 16-byte MAC, ciphertext.
 */
export class CurveMessageBox {
  /** XSalsa20's subkey: HSalsa20(key, prefix), the same for every nonce with this prefix. */
  readonly #subkey = new Uint32Array(8);

  /** `key`: the crypto_box_beforenm key (32 bytes); `prefix`: the nonce's first 16 bytes. */
  constructor(key: Uint8Array, prefix: Uint8Array) {
    if (key.length !== 32 || prefix.length !== 16) {
      throw new RangeError("Cannot make a CURVE message box: key 32 bytes, prefix 16 bytes");
    }
    const k = new Uint32Array(8);
    for (let i = 0; i < 8; i++) k[i] = u32(key, 4 * i);
    core(k, u32(prefix, 0), u32(prefix, 4), u32(prefix, 8), u32(prefix, 12), false, this.#subkey);
  }

  /**
   * Seals in place the box that starts at `buf[at]` and runs to the end of `buf`: reads the
   * short nonce at `at`, encrypts `buf[at + 24..]` and writes the MAC at `at + 8`.
   */
  seal(buf: Uint8Array, at: number): void {
    const n0 = u32(buf, at), n1 = u32(buf, at + 4);
    const k = this.#subkey;
    const start = at + 24;
    const end = buf.length;
    core(k, n0, n1, 0, 0, true);
    polyInit();
    let p = start;
    for (let i = 32; i < 64 && p < end; i++, p++) buf[p]! ^= ks[i]!;
    for (let counter = 1; p < end; counter++) {
      core(k, n0, n1, counter, 0, true);
      const stop = Math.min(end, p + 64);
      for (let i = 0; p < stop; i++, p++) buf[p]! ^= ks[i]!;
    }
    polyTag(buf, start, end - start);
    buf.set(tag, at + 8);
  }

  /** Opens a box (nonce, MAC, ciphertext): a new plaintext, or undefined if the MAC is wrong. */
  open(box: Uint8Array): Uint8Array | undefined {
    if (box.length < 24) return undefined;
    const n0 = u32(box, 0), n1 = u32(box, 4);
    const k = this.#subkey;
    core(k, n0, n1, 0, 0, true);
    polyInit();
    polyTag(box, 24, box.length - 24);
    let diff = 0;
    for (let i = 0; i < 16; i++) diff |= tag[i]! ^ box[8 + i]!;
    if (diff !== 0) return undefined;
    const out = new Uint8Array(box.length - 24);
    const end = out.length;
    let p = 0;
    for (let i = 32; i < 64 && p < end; i++, p++) out[p] = box[24 + p]! ^ ks[i]!;
    for (let counter = 1; p < end; counter++) {
      core(k, n0, n1, counter, 0, true);
      const stop = Math.min(end, p + 64);
      for (let i = 0; p < stop; i++, p++) out[p] = box[24 + p]! ^ ks[i]!;
    }
    return out;
  }

  /** The first plaintext byte of a box from its first 25 bytes, unauthenticated. */
  peek(head: Uint8Array): number {
    core(this.#subkey, u32(head, 0), u32(head, 4), 0, 0, true);
    return head[24]! ^ ks[32]!;
  }
}
