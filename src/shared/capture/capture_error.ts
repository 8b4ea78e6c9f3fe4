/** What made a capture unreadable past some point (a bounded set: a metrics label). */
export type CaptureErrorKind =
  | "empty" // no bytes at all
  | "format" // neither pcap nor pcapng
  | "truncated" // the file ends inside a record or block
  | "corrupt" // a record or block that cannot be right
  | "gzip"; // the compressed stream is damaged

/**
 * A capture that cannot be read past some point: truncated, corrupt or of an unknown format.
 * `offset` is the byte offset in the file where the unreadable record or block starts.
 */
export class CaptureError extends SyntaxError {
  /** Byte offset of the offending record, block or header. */
  readonly offset: number;
  /** What went wrong, for counting. */
  readonly kind: CaptureErrorKind;

  constructor(message: string, offset: number, kind: CaptureErrorKind = "corrupt") {
    super(message);
    this.name = "CaptureError";
    this.offset = offset;
    this.kind = kind;
  }
}
