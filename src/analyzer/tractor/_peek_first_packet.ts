/**
 * Time of the first packet of a capture, reading only its first block: `/files/list` needs a
 * start time for captures that no job has read yet.
 */
import { CaptureReader } from "../../shared/capture/capture_reader.ts";
import { streamSource } from "../../shared/capture/stream_source.ts";

/** Bytes read from the start of a capture: enough for the headers and a first packet. */
const HEAD_BYTES = 256 * 1024;

/** Unix seconds of the first packet at `path`, or undefined (no packet, unreadable). */
export async function peekFirstPacket(path: string): Promise<number | undefined> {
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(path, { read: true });
    const head = new Uint8Array(HEAD_BYTES);
    let n = 0;
    for (;;) {
      const got = await file.read(head.subarray(n));
      if (got === null) break;
      n += got;
      if (n === head.length) break;
    }
    const bytes = head.subarray(0, n);
    // A gzip capture is peeked through its first block only: a stream that owns no file handle
    // and can be dropped half-read.
    const source = n >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b
      ? streamSource(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip")))
      : bytes;
    const reader = new CaptureReader(source, { bufferBytes: 64 * 1024 });
    for await (const view of reader) {
      const ts = view.tsUs;
      reader.stop();
      return Math.floor(ts / 1e6);
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    file?.close();
  }
}
