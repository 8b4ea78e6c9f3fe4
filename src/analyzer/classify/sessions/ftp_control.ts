import type { PacketView } from "../../../shared/capture/packet_view.ts";
import { ftpVerdict } from "../signatures/ftp_signature.ts";
import { type FtpDataEndpoint, ftpDataEndpoint } from "./ftp_data_endpoint.ts";

/** Longest control line kept; longer ones are skipped (PASV/PORT lines are short). */
const MAX_LINE = 512;

/**
 * Follows one FTP control connection line by line, in TCP sequence order, and reports every data
 * connection it announces (PASV/EPSV replies, PORT/EPRT commands). Memory: one partial line per
 * direction and the first two lines of each side (for the FTP-or-SMTP verdict).
 * Direction 0 is the client (the flow's initiator), 1 the server.
 */
export class FtpControl {
  /** true: FTP; false: another `220` protocol (SMTP …); undefined: not known yet. */
  verdict: boolean | undefined = undefined;
  /** Lines read per direction. */
  readonly lines: [number, number] = [0, 0];
  readonly #first: [string[], string[]] = [[], []];
  readonly #partial: [string, string] = ["", ""];
  readonly #skipLine: [boolean, boolean] = [false, false];
  readonly #nextSeq: [number, number] = [-1, -1];
  readonly #serverPort: number;
  readonly #onEndpoint: (endpoint: FtpDataEndpoint) => void;

  /** Creates a follower; `onEndpoint` gets each announced data connection. */
  constructor(serverPort: number, onEndpoint: (endpoint: FtpDataEndpoint) => void) {
    this.#serverPort = serverPort;
    this.#onEndpoint = onEndpoint;
  }

  /** Feeds the first payload bytes of a direction (already in order). */
  feed(direction: 0 | 1, bytes: Uint8Array): void {
    if (this.verdict === false) return;
    for (let i = 0; i < bytes.length; i++) this.#byte(direction, bytes[i]!);
  }

  /** Feeds one later TCP packet; retransmissions are skipped, a gap drops the partial line. */
  feedPacket(direction: 0 | 1, view: PacketView): void {
    if (this.verdict === false) return;
    const seq = view.tcpSeq >>> 0;
    const expected = this.#nextSeq[direction];
    let skip = 0;
    if (expected >= 0 && seq !== expected) {
      const behind = (expected - seq) >>> 0;
      if (behind < 0x80000000) {
        // Old data (retransmission): use only the part past what we have.
        if (behind >= view.payloadLength) return;
        skip = behind;
      } else {
        this.#partial[direction] = "";
        this.#skipLine[direction] = true; // resynchronise at the next line start
      }
    }
    this.#nextSeq[direction] = (seq + view.payloadLength) >>> 0;
    const b = view.buf;
    const end = view.payloadOffset + view.payloadCaptured;
    for (let i = view.payloadOffset + skip; i < end; i++) this.#byte(direction, b[i]!);
    if (view.payloadCaptured < view.payloadLength) {
      this.#partial[direction] = "";
      this.#skipLine[direction] = true;
    }
  }

  #byte(direction: 0 | 1, c: number): void {
    if (c === 10) {
      const raw = this.#partial[direction];
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      this.#partial[direction] = "";
      if (this.#skipLine[direction]) {
        this.#skipLine[direction] = false;
        return;
      }
      this.#line(direction, line);
      return;
    }
    if (this.#skipLine[direction]) return;
    if (this.#partial[direction].length >= MAX_LINE) {
      this.#partial[direction] = "";
      this.#skipLine[direction] = true;
      return;
    }
    this.#partial[direction] += String.fromCharCode(c);
  }

  #line(direction: 0 | 1, line: string): void {
    this.lines[direction]++;
    const first = this.#first[direction];
    if (first.length < 2) {
      first.push(line);
      if (this.verdict === undefined) {
        this.verdict = ftpVerdict(this.#first[1], this.#first[0], this.#serverPort);
      }
    }
    if (this.verdict === false) return;
    const endpoint = ftpDataEndpoint(line, direction === 1);
    if (endpoint !== undefined) this.#onEndpoint(endpoint);
  }
}
