/** Where `qts analyze` writes a table: a file or stdout, written synchronously in large chunks. */
export class TextSink {
  readonly #file: Deno.FsFile | undefined;
  readonly #encoder = new TextEncoder();
  #parts: string[] = [];
  #pending = 0;

  /** Opens `path` for writing (truncating it); `-` means stdout. */
  constructor(path: string) {
    this.#file = path === "-"
      ? undefined
      : Deno.openSync(path, { write: true, create: true, truncate: true });
  }

  /** Queues text; flushes every 256 KiB. */
  write(text: string): void {
    this.#parts.push(text);
    this.#pending += text.length;
    if (this.#pending >= 262144) this.flush();
  }

  /** Writes everything queued. */
  flush(): void {
    if (this.#parts.length === 0) return;
    const bytes = this.#encoder.encode(this.#parts.join(""));
    this.#parts = [];
    this.#pending = 0;
    let off = 0;
    while (off < bytes.length) {
      const chunk = bytes.subarray(off);
      off += this.#file ? this.#file.writeSync(chunk) : Deno.stdout.writeSync(chunk);
    }
  }

  /** Flushes and closes the file. */
  close(): void {
    this.flush();
    this.#file?.close();
  }
}
