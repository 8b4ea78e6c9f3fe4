import type { ByteSource } from "./capture_reader.ts";

/** A {@linkcode ByteSource} over a web stream; a stream error ends it and is kept in `error`. */
export interface StreamSource extends ByteSource {
  /** Why the stream failed (e.g. corrupt gzip data), if it did. */
  readonly error: Error | undefined;
}

/**
 * Adapts a `ReadableStream<Uint8Array>` (e.g. a file piped through
 * `DecompressionStream("gzip")`) to the reader's `read()` interface. A failing stream ends the
 * source instead of throwing, so the capture reader reports a truncation at the last good byte.
 */
export function streamSource(stream: ReadableStream<Uint8Array>): StreamSource {
  const reader = stream.getReader();
  let rest: Uint8Array = new Uint8Array(0);
  let error: Error | undefined;
  return {
    get error() {
      return error;
    },
    async read(p: Uint8Array): Promise<number | null> {
      while (rest.length === 0) {
        if (error) return null;
        try {
          const r = await reader.read();
          if (r.done) return null;
          rest = r.value;
        } catch (e) {
          error = e instanceof Error ? e : new Error(String(e));
          return null;
        }
      }
      const n = Math.min(p.length, rest.length);
      p.set(rest.subarray(0, n));
      rest = rest.subarray(n);
      return n;
    },
  };
}
