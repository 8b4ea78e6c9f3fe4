import { CaptureError, type CaptureErrorKind } from "./capture_error.ts";
import { PacketView } from "./packet_view.ts";

/** Anything with a `read()` like `Deno.FsFile`: fills `p`, resolves bytes read or null at EOF. */
export interface ByteSource {
  read(p: Uint8Array): Promise<number | null>;
}

/** Options of {@linkcode CaptureReader}. */
export interface CaptureReaderOptions {
  /** Largest pcap record or pcapng block accepted; a larger length is reported as corruption. */
  maxRecordBytes?: number;
  /** Initial read buffer for streamed sources (grows up to `maxRecordBytes` for huge records). */
  bufferBytes?: number;
  /** Total size of the source when known: a record claiming more bytes than remain is reported
   * as truncated without buffering it. */
  sizeBytes?: number;
  /** Called after every refill of the buffer with the number of bytes consumed so far. */
  onRefill?: (bytesConsumed: number) => void;
  /** Read the next chunk while the current one is parsed (default: for a `Deno.FsFile`, whose
   * reads always finish; a pipe could hold a read open after the caller stopped reading). */
  readAhead?: boolean;
}

/** Capture container format, known after the first bytes are read. */
export type CaptureFormat = "pcap" | "pcapng" | "unknown";

interface PcapngInterface {
  linkType: number;
  /** Timestamp units: decimal (10^-exp s) or binary (2^-exp s). */
  decimal: boolean;
  exp: number;
  /** Microseconds added to every timestamp (if_tsoffset). */
  offsetUs: number;
}

const PACKET = 1;
const NEED = 2;
const ERROR = 4;

const SHB = 0x0a0d0d0a;
const IDB = 1;
const OPB = 2;
const SPB = 3;
const EPB = 6;
const TWO32 = 4294967296;
const DEFAULT_MAX_RECORD = 16 * 1024 * 1024;
const DEFAULT_BUFFER = 1024 * 1024;
const MAX_RESERVE = 64 * 1024;

/**
 * Streaming reader of pcap (µs/ns, both byte orders, Kuznetzov's modified pcap) and pcapng
 * (SHB/IDB/EPB/SPB/OPB, several sections and interfaces, if_tsresol/if_tsoffset; other blocks
 * skipped). Memory stays bounded by the largest record; packets are delivered through one reused
 * {@linkcode PacketView}. A truncated or corrupt file yields every readable packet, then
 * `error` holds a {@linkcode CaptureError} with the byte offset; nothing is thrown.
 *
 * @example
 * ```ts
 * const reader = new CaptureReader(bytes);
 * await reader.forEach((view) => console.log(view.tsUs, view.capLen));
 * if (reader.error) console.error(reader.error.message);
 * ```
 */
export class CaptureReader {
  /** The packet view handed to callbacks (reused for every packet). */
  readonly view: PacketView = new PacketView();
  /** Container format once detected. */
  format: CaptureFormat = "unknown";
  /** Why reading stopped early, if it did. */
  error: CaptureError | undefined = undefined;
  /** Packets delivered so far. */
  packets = 0;
  /** pcapng blocks of unknown or ignored type that were skipped. */
  skippedBlocks = 0;

  #source: ByteSource | null;
  #buf: Uint8Array;
  #dv: DataView;
  #pos = 0;
  #end = 0;
  /** File offset of buf[0]. */
  #base = 0;
  #eof: boolean;
  /** Read-ahead: the read in flight into `#spare` (after its first `#reserve` bytes). */
  #ahead: Promise<number | null> | undefined = undefined;
  #aheadError: { error: unknown } | undefined = undefined;
  #spare: Uint8Array | undefined = undefined;
  #spareDv: DataView | undefined = undefined;
  readonly #readAhead: boolean;
  /** Room kept before read-ahead data for the partial record left in the current chunk. */
  readonly #reserve: number;
  #maxRecord: number;
  #size: number | undefined;
  #onRefill: ((bytesConsumed: number) => void) | undefined;
  #need = 0;
  #needWhat = "";
  #done = false;
  /** 0 before the file header is consumed, 1 pcap records, 2 pcapng blocks. */
  #state = 0;
  // pcap
  #le = true;
  #nanos = false;
  #recordHeader = 16;
  #pcapLink = 0;
  // pcapng
  #inSection = false;
  #ifaces: PcapngInterface[] = [];
  #lastTsUs = 0;

  /** Reads from an in-memory capture or from a streamed source such as an open `Deno.FsFile`. */
  constructor(source: Uint8Array | ByteSource, options: CaptureReaderOptions = {}) {
    this.#maxRecord = options.maxRecordBytes ?? DEFAULT_MAX_RECORD;
    this.#size = options.sizeBytes;
    this.#onRefill = options.onRefill;
    if (source instanceof Uint8Array) {
      this.#source = null;
      this.#buf = source;
      this.#end = source.length;
      this.#eof = true;
      this.#size = source.length;
    } else {
      this.#source = source;
      this.#buf = new Uint8Array(options.bufferBytes ?? DEFAULT_BUFFER);
      this.#eof = false;
    }
    this.#readAhead = this.#source !== null &&
      (options.readAhead ?? (typeof Deno !== "undefined" && source instanceof Deno.FsFile));
    this.#reserve = Math.min(MAX_RESERVE, this.#buf.length >> 2);
    this.#dv = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.byteLength);
  }

  /** Bytes of the source consumed (parsed) so far. */
  get bytesConsumed(): number {
    return this.#base + this.#pos;
  }

  /**
   * Delivers every readable packet to `onPacket`, then resolves. The view is only valid during
   * the call. Check `error` afterwards for a truncated or corrupt file.
   */
  async forEach(onPacket: (view: PacketView) => void): Promise<void> {
    const view = this.view;
    try {
      while (!this.#done) {
        const r = this.#step(view);
        if (r === PACKET) {
          onPacket(view);
        } else if (r === NEED) {
          if (!(await this.#fill(this.#need))) this.#truncated();
        } else {
          this.#done = true;
        }
      }
    } finally {
      await this.#settleAhead();
    }
  }

  /** Async iteration over the packets (the same view object every time). */
  async *[Symbol.asyncIterator](): AsyncGenerator<PacketView> {
    const view = this.view;
    try {
      while (!this.#done) {
        const r = this.#step(view);
        if (r === PACKET) {
          yield view;
        } else if (r === NEED) {
          if (!(await this.#fill(this.#need))) this.#truncated();
        } else {
          this.#done = true;
        }
      }
    } finally {
      await this.#settleAhead();
    }
  }

  /** Stops `forEach`/iteration after the current packet (e.g. a cancelled job). */
  stop(): void {
    this.#done = true;
  }

  /** True once reading has ended (end of file, error or `stop()`). */
  get done(): boolean {
    return this.#done;
  }

  #truncated(): void {
    const have = this.#end - this.#pos;
    if (have === 0 && this.#needWhat.startsWith("next")) {
      // Clean end of file at a record boundary.
      this.#done = true;
      return;
    }
    const what = this.#needWhat.replace(/^next /, "");
    this.#fail(
      `Truncated ${this.format} capture: ${what} at byte ${this.bytesConsumed} needs ${this.#need} bytes, only ${have} present`,
      this.bytesConsumed,
      "truncated",
    );
  }

  #fail(message: string, at = this.bytesConsumed, kind: CaptureErrorKind = "corrupt"): number {
    this.error = new CaptureError(message, at, kind);
    this.#done = true;
    return ERROR;
  }

  #needs(n: number, what: string): number {
    this.#need = n;
    this.#needWhat = what;
    return NEED;
  }

  async #fill(need: number): Promise<boolean> {
    if (this.#source === null || (this.#eof && this.#ahead === undefined)) return false;
    const at = this.#base + this.#pos;
    if (this.#size !== undefined && at + need > this.#size) {
      // Do not buffer a record that cannot be complete; still read what is there so the error
      // names the real number of bytes present.
      need = Math.max(this.#end - this.#pos, this.#size - at);
      if (need <= this.#end - this.#pos) return false;
    }
    if (this.#ahead !== undefined) await this.#takeAhead();
    if (this.#pos + need > this.#buf.length) this.#compact();
    if (need > this.#buf.length) {
      const grown = new Uint8Array(Math.max(need, Math.min(this.#buf.length * 2, this.#maxRecord)));
      grown.set(this.#buf.subarray(0, this.#end));
      this.#buf = grown;
      this.#dv = new DataView(grown.buffer, grown.byteOffset, grown.byteLength);
    }
    const half = this.#buf.length >> 1;
    while (
      !this.#eof &&
      (this.#end - this.#pos < need || (this.#end < half && this.#end < this.#buf.length))
    ) {
      if (this.#end === this.#buf.length) this.#compact();
      const n = await this.#source.read(this.#buf.subarray(this.#end));
      if (n === null || n === 0) {
        this.#eof = true;
        break;
      }
      this.#end += n;
    }
    if (this.#readAhead && !this.#eof) this.#startAhead(this.#source);
    this.#onRefill?.(this.bytesConsumed);
    return this.#end - this.#pos >= this.#need;
  }

  /** Moves the unparsed bytes to the start of the buffer. */
  #compact(): void {
    if (this.#pos === 0) return;
    this.#buf.copyWithin(0, this.#pos, this.#end);
    this.#base += this.#pos;
    this.#end -= this.#pos;
    this.#pos = 0;
  }

  /** Reads the next chunk into the spare buffer while the current one is parsed. */
  #startAhead(source: ByteSource): void {
    if (this.#spare === undefined) {
      this.#spare = new Uint8Array(this.#buf.length);
      this.#spareDv = new DataView(this.#spare.buffer);
    }
    this.#ahead = source.read(this.#spare.subarray(this.#reserve)).catch((error) => {
      this.#aheadError = { error };
      return null;
    });
  }

  /** Takes the chunk read ahead: the unparsed rest of the current chunk is copied in front of it
   * and the buffers swap, so a chunk is never copied whole. */
  async #takeAhead(): Promise<void> {
    const n = await this.#ahead;
    this.#ahead = undefined;
    if (this.#aheadError !== undefined) {
      const { error } = this.#aheadError;
      this.#aheadError = undefined;
      throw error;
    }
    if (n === null || n === undefined || n === 0) {
      this.#eof = true;
      return;
    }
    const spare = this.#spare!, reserve = this.#reserve;
    const left = this.#end - this.#pos;
    if (left <= reserve) {
      const start = reserve - left;
      spare.set(this.#buf.subarray(this.#pos, this.#end), start);
      this.#base += this.#pos - start;
      const buf = this.#buf, dv = this.#dv;
      this.#buf = spare;
      this.#dv = this.#spareDv!;
      this.#spare = buf;
      this.#spareDv = dv;
      this.#pos = start;
      this.#end = reserve + n;
      return;
    }
    // A partial record longer than the reserve (a huge frame): append the bytes the slow way.
    this.#compact();
    if (this.#end + n > this.#buf.length) {
      const grown = new Uint8Array(Math.max(this.#end + n, this.#buf.length * 2));
      grown.set(this.#buf.subarray(0, this.#end));
      this.#buf = grown;
      this.#dv = new DataView(grown.buffer);
    }
    this.#buf.set(spare.subarray(reserve, reserve + n), this.#end);
    this.#end += n;
  }

  /** Waits for a read still in flight (a file read always ends), so none outlives the reader. */
  async #settleAhead(): Promise<void> {
    if (this.#ahead === undefined) return;
    await this.#ahead;
    this.#ahead = undefined;
    this.#aheadError = undefined;
  }

  #u32(at: number): number {
    return this.#dv.getUint32(at, this.#le);
  }

  #u16(at: number): number {
    return this.#dv.getUint16(at, this.#le);
  }

  #step(view: PacketView): number {
    if (this.#state === 1) return this.#pcapRecord(view);
    if (this.#state === 2) return this.#pcapngBlock(view);
    return this.#detect();
  }

  #detect(): number {
    const avail = this.#end - this.#pos;
    if (avail < 4) {
      if (this.#eof && avail === 0 && this.#base === 0) {
        return this.#fail("Cannot read capture: the file is empty", 0, "empty");
      }
      return this.#needs(4, "file magic");
    }
    const b = this.#buf;
    const p = this.#pos;
    const magic = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
    const swapped = ((b[p + 3]! << 24) | (b[p + 2]! << 16) | (b[p + 1]! << 8) | b[p]!) >>> 0;
    if (magic === SHB) {
      this.format = "pcapng";
      this.#state = 2;
      return this.#pcapngBlock(this.view);
    }
    let found = false;
    for (const [m, le] of [[magic, false], [swapped, true]] as const) {
      if (m === 0xa1b2c3d4 || m === 0xa1b23c4d || m === 0xa1b2cd34) {
        this.#le = le;
        this.#nanos = m === 0xa1b23c4d;
        this.#recordHeader = m === 0xa1b2cd34 ? 24 : 16;
        found = true;
        break;
      }
    }
    if (!found) {
      return this.#fail(
        `Cannot read capture: unknown file magic 0x${
          magic.toString(16).padStart(8, "0")
        } at byte 0 (expected pcap or pcapng)`,
        0,
        "format",
      );
    }
    this.format = "pcap";
    if (avail < 24) return this.#needs(24, "pcap file header");
    // The upper bits carry FCS information (pcap spec §"LinkType"); the link type is the low 16.
    this.#pcapLink = this.#u32(p + 20) & 0xffff;
    this.#pos += 24;
    this.#state = 1;
    return this.#pcapRecord(this.view);
  }

  #pcapRecord(view: PacketView): number {
    const p = this.#pos;
    const avail = this.#end - p;
    const hdr = this.#recordHeader;
    if (avail < hdr) return this.#needs(hdr, "next pcap record header");
    const incl = this.#u32(p + 8);
    if (incl > this.#maxRecord) {
      return this.#fail(
        `Corrupt pcap capture: record at byte ${this.bytesConsumed} claims ${incl} captured bytes (limit ${this.#maxRecord})`,
      );
    }
    if (avail < hdr + incl) return this.#needs(hdr + incl, "pcap packet record");
    const sec = this.#u32(p);
    const frac = this.#u32(p + 4);
    view.buf = this.#buf;
    view.frameStart = p + hdr;
    view.capLen = incl;
    view.origLen = Math.max(this.#u32(p + 12), incl);
    view.tsUs = sec * 1e6 + (this.#nanos ? Math.floor(frac / 1000) : frac);
    view.linkType = this.#pcapLink;
    view.interfaceId = 0;
    view.fileOffset = this.#base + p;
    view.index = ++this.packets;
    this.#pos = p + hdr + incl;
    return PACKET;
  }

  #pcapngBlock(view: PacketView): number {
    for (;;) {
      const p = this.#pos;
      const avail = this.#end - p;
      if (avail < 12) return this.#needs(12, "next pcapng block header");
      const b = this.#buf;
      const type0 = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
      if (type0 === SHB) {
        const bom = ((b[p + 8]! << 24) | (b[p + 9]! << 16) | (b[p + 10]! << 8) | b[p + 11]!) >>> 0;
        if (bom === 0x1a2b3c4d) this.#le = false;
        else if (bom === 0x4d3c2b1a) this.#le = true;
        else {
          return this.#fail(
            `Corrupt pcapng capture: section header at byte ${this.bytesConsumed} has byte-order magic 0x${
              bom.toString(16)
            }`,
          );
        }
      } else if (!this.#inSection) {
        return this.#fail(
          `Corrupt pcapng capture: block at byte ${this.bytesConsumed} comes before any section header`,
        );
      }
      const type = this.#u32(p);
      const len = this.#u32(p + 4);
      if (len < 12 || len % 4 !== 0 || len > this.#maxRecord) {
        return this.#fail(
          `Corrupt pcapng capture: block of type ${type} at byte ${this.bytesConsumed} has invalid length ${len}`,
        );
      }
      if (avail < len) return this.#needs(len, `pcapng block of type ${type}`);
      if (this.#u32(p + len - 4) !== len) {
        return this.#fail(
          `Corrupt pcapng capture: block of type ${type} at byte ${this.bytesConsumed} has trailing length ${
            this.#u32(p + len - 4)
          } instead of ${len}`,
        );
      }
      if (type === SHB) {
        if (len < 28) return this.#badBlock("section header", len);
        this.#inSection = true;
        this.#ifaces = [];
      } else if (type === IDB) {
        if (len < 20) return this.#badBlock("interface description", len);
        this.#ifaces.push(this.#parseIdb(p, len));
      } else if (type === EPB || type === OPB) {
        if (len < 32) return this.#badBlock("packet", len);
        const ifId = type === EPB ? this.#u32(p + 8) : this.#u16(p + 8);
        const cap = this.#u32(p + 20);
        if (cap > len - 32) {
          return this.#fail(
            `Corrupt pcapng capture: packet block at byte ${this.bytesConsumed} claims ${cap} captured bytes in a ${len}-byte block`,
          );
        }
        const iface = this.#ifaces[ifId];
        if (iface === undefined) {
          return this.#fail(
            `Corrupt pcapng capture: packet block at byte ${this.bytesConsumed} names interface ${ifId}, but only ${this.#ifaces.length} are described`,
          );
        }
        const ts = toMicros(this.#u32(p + 12), this.#u32(p + 16), iface);
        this.#lastTsUs = ts;
        view.buf = b;
        view.frameStart = p + 28;
        view.capLen = cap;
        view.origLen = Math.max(this.#u32(p + 24), cap);
        view.tsUs = ts;
        view.linkType = iface.linkType;
        view.interfaceId = ifId;
        view.fileOffset = this.#base + p;
        view.index = ++this.packets;
        this.#pos = p + len;
        return PACKET;
      } else if (type === SPB) {
        if (len < 16) return this.#badBlock("simple packet", len);
        const iface = this.#ifaces[0];
        if (iface === undefined) {
          return this.#fail(
            `Corrupt pcapng capture: simple packet block at byte ${this.bytesConsumed} without an interface description`,
          );
        }
        const orig = this.#u32(p + 8);
        const cap = Math.min(orig, len - 16);
        view.buf = b;
        view.frameStart = p + 12;
        view.capLen = cap;
        view.origLen = orig;
        // A simple packet block has no timestamp: it inherits the previous packet's.
        view.tsUs = this.#lastTsUs;
        view.linkType = iface.linkType;
        view.interfaceId = 0;
        view.fileOffset = this.#base + p;
        view.index = ++this.packets;
        this.#pos = p + len;
        return PACKET;
      } else {
        this.skippedBlocks++;
      }
      this.#pos = p + len;
    }
  }

  #badBlock(what: string, len: number): number {
    return this.#fail(
      `Corrupt pcapng capture: ${what} block at byte ${this.bytesConsumed} is too short (${len} bytes)`,
    );
  }

  #parseIdb(p: number, len: number): PcapngInterface {
    const iface: PcapngInterface = {
      linkType: this.#u16(p + 8),
      decimal: true,
      exp: 6,
      offsetUs: 0,
    };
    let o = p + 16;
    const stop = p + len - 4;
    while (o + 4 <= stop) {
      const code = this.#u16(o);
      const olen = this.#u16(o + 2);
      const v = o + 4;
      if (code === 0 || v + olen > stop) break;
      if (code === 9 && olen >= 1) {
        const r = this.#buf[v]!;
        iface.decimal = (r & 0x80) === 0;
        iface.exp = r & 0x7f;
      } else if (code === 14 && olen >= 8) {
        const hi = this.#le ? this.#dv.getInt32(v + 4, true) : this.#dv.getInt32(v, false);
        const lo = this.#le ? this.#u32(v) : this.#u32(v + 4);
        iface.offsetUs = (hi * TWO32 + lo) * 1e6;
      }
      o = v + ((olen + 3) & ~3);
    }
    return iface;
  }
}

/** Converts a 64-bit pcapng timestamp (hi, lo) in interface units to integer microseconds. */
function toMicros(hi: number, lo: number, iface: PcapngInterface): number {
  const e = iface.exp;
  let us: number;
  if (iface.decimal) {
    if (e === 6) us = hi * TWO32 + lo;
    else if (e < 6) us = (hi * TWO32 + lo) * 10 ** (6 - e);
    else {
      // Long division keeps nanosecond timestamps exact (their raw value exceeds 2^53).
      const d = 10 ** (e - 6);
      const hiQ = Math.floor(hi / d);
      const rest = (hi - hiQ * d) * TWO32 + lo;
      us = hiQ * TWO32 + Math.floor(rest / d);
    }
  } else {
    us = Math.floor((hi * TWO32 + lo) * (1e6 / 2 ** e));
  }
  return us + iface.offsetUs;
}
