/**
 * Time of the first packet of a capture, reading only its first block: `/files/list` needs a
 * start time for captures that no job has read yet.
 */
import { CaptureReader } from "../capture/capture_reader.ts";
import { streamSource } from "../capture/stream_source.ts";

/** Unix seconds of the first packet at `path`, or undefined (no packet, unreadable). */
export async function peekFirstPacket(path: string): Promise<number | undefined> {
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(path, { read: true });
    const magic = new Uint8Array(2);
    const n = await file.read(magic);
    await file.seek(0, Deno.SeekMode.Start);
    const gz = n === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
    const source = gz
      ? streamSource(file.readable.pipeThrough(new DecompressionStream("gzip")))
      : file;
    if (gz) file = undefined; // the stream owns the file now
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
