/**
 * A capture that cannot be read past some point: truncated, corrupt or of an unknown format.
 * `offset` is the byte offset in the file where the unreadable record or block starts.
 */
export class CaptureError extends SyntaxError {
  /** Byte offset of the offending record, block or header. */
  readonly offset: number;

  constructor(message: string, offset: number) {
    super(message);
    this.name = "CaptureError";
    this.offset = offset;
  }
}
