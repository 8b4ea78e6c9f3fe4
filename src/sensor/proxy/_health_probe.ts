import type { UpstreamAddress } from "./_upstream_address.ts";

/** One active check of one upstream, as configured in a pool's `health`. */
export interface ProbeSpec {
  kind: "http" | "tcp";
  /** Request path of an HTTP check. */
  path: string;
  timeoutMs: number;
  /** Accepted status range of an HTTP check, both ends included. */
  expectStatus: readonly [number, number];
}

/** How a probe ended: `ok`, or why not (the `result` label of the health-check counter). */
export type ProbeOutcome = "ok" | "status" | "timeout" | "refused" | "error";

/** A probe's outcome with a line for the log (`detail`). */
export interface ProbeResult {
  outcome: ProbeOutcome;
  detail: string;
}

// Enough for any status line; a peer sending more without a line end is not speaking HTTP.
const MAX_STATUS_LINE = 4096;
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: |\r|$)/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Connects to `target` and, for an HTTP check, sends `GET path` and reads the status line; the
 * connection is closed right after. Never rejects: failures are outcomes. `stop` aborting makes
 * it return promptly (outcome `error`, detail "stopped") with nothing left open.
 */
export async function probeUpstream(
  target: UpstreamAddress & { address: string },
  spec: ProbeSpec,
  stop: AbortSignal,
): Promise<ProbeResult> {
  const abort = new AbortController();
  let conn: Deno.TcpConn | undefined;
  let timedOut = false;
  const close = () => {
    try {
      conn?.close();
    } catch { /* already closed */ }
    conn = undefined;
  };
  const cancel = () => {
    abort.abort();
    close(); // a pending read or write then rejects at once
  };
  const timer = setTimeout(() => {
    timedOut = true;
    cancel();
  }, spec.timeoutMs);
  stop.addEventListener("abort", cancel, { once: true });
  try {
    if (stop.aborted) return { outcome: "error", detail: "stopped" };
    conn = await Deno.connect({
      hostname: target.hostname,
      port: target.port,
      signal: abort.signal,
    });
    if (abort.signal.aborted) throw new Error("aborted");
    if (spec.kind === "tcp") return { outcome: "ok", detail: "connected" };
    await writeAll(conn, request(spec.path, target.address));
    const line = await readStatusLine(conn);
    const match = STATUS_LINE.exec(line);
    if (!match) {
      return { outcome: "error", detail: `not an HTTP status line: ${line.slice(0, 80)}` };
    }
    const status = Number(match[1]);
    const [lo, hi] = spec.expectStatus;
    return status >= lo && status <= hi
      ? { outcome: "ok", detail: `status ${status}` }
      : { outcome: "status", detail: `status ${status} outside ${lo}-${hi}` };
  } catch (error) {
    if (timedOut) return { outcome: "timeout", detail: `no answer within ${spec.timeoutMs} ms` };
    if (stop.aborted) return { outcome: "error", detail: "stopped" };
    if (error instanceof Deno.errors.ConnectionRefused) {
      return { outcome: "refused", detail: "connection refused" };
    }
    return { outcome: "error", detail: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
    stop.removeEventListener("abort", cancel);
    close();
  }
}

function request(path: string, host: string): Uint8Array {
  return encoder.encode(
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: qts-health-check\r\n` +
      `Accept: */*\r\nConnection: close\r\n\r\n`,
  );
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
}

async function readStatusLine(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(MAX_STATUS_LINE);
  let filled = 0;
  while (filled < buffer.length) {
    const n = await conn.read(buffer.subarray(filled));
    if (n === null) break;
    const end = buffer.subarray(filled, filled + n).indexOf(10); // \n
    filled += n;
    if (end >= 0) break;
  }
  if (filled === 0) throw new Error("connection closed before a status line");
  return decoder.decode(buffer.subarray(0, filled)).split("\n", 1)[0]!;
}
