/** Reads a child process's stdout line by line and waits for lines, with a bound. */
export class ChildLines {
  readonly lines: string[] = [];
  #waiters: { re: RegExp; from: number; resolve: (m: RegExpMatchArray) => void }[] = [];
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = this.#read(stream);
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      let nl;
      while ((nl = rest.indexOf("\n")) >= 0) {
        this.lines.push(rest.slice(0, nl));
        rest = rest.slice(nl + 1);
        this.#check();
      }
    }
  }

  #check(): void {
    this.#waiters = this.#waiters.filter((w) => {
      for (let i = w.from; i < this.lines.length; i++) {
        const m = this.lines[i]!.match(w.re);
        if (m) {
          w.resolve(m);
          return false;
        }
      }
      return true;
    });
  }

  /** The first line (from index `from`) matching `re`; rejects after `ms`. */
  waitFor(re: RegExp, ms: number, from = 0): Promise<RegExpMatchArray> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const found = new Promise<RegExpMatchArray>((resolve) => {
      this.#waiters.push({ re, from, resolve });
      this.#check();
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(`No line matching ${re} within ${ms} ms; got:\n${this.lines.join("\n")}`),
          ),
        ms,
      );
    });
    return Promise.race([found, timeout]).finally(() => clearTimeout(timer));
  }
}
