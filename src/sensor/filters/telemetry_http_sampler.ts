import type { TelemetryConfig } from "../../shared/config/components.ts";
import type { HttpRecord } from "../wire/record.ts";
import { toPlainRecord } from "../wire/decode_record.ts";
import type { FilterDeps, FilterInstance, RequestContext } from "./types.ts";

/** Services of the telemetry sampler besides the common ones. */
export interface TelemetryDeps extends FilterDeps {
  /** Sends one JSON message (the `[tsng:telemetry] outbound` ZeroMQ PUB in the sensor). */
  publish?(json: string): void;
  /** Uniform [0, 1) source; default Math.random. */
  random?(): number;
}

const FLUSH_BYTES = 64 * 1024;
const encoder = new TextEncoder();

/** A telemetry sampler: a filter plus its counters. */
export interface TelemetryInstance extends FilterInstance {
  counters(): { sampled: number; failed: number };
}

/**
 * telemetry_http_sampler: publishes a `rate` fraction (default 1/1000) of first-phase records
 * as JSON — the record's wire fields plus `domain_id`, `remote_addr` (client address), `time`
 * (event time, s), `flags` (set ones) and `events` — through `deps.publish`, and appends them
 * as JSON lines to `file` when set (buffered; flushed at 64 KiB, on every sweep and on close).
 * Publishing or writing never throws into the chain: failures are counted and logged.
 */
export function telemetryHttpSampler(
  config: TelemetryConfig,
  deps: TelemetryDeps = {},
): TelemetryInstance {
  const rate = config.rate;
  const random = deps.random ?? Math.random;
  let file: Deno.FsFile | undefined;
  if (config.file !== "") {
    try {
      file = Deno.openSync(config.file, { append: true, create: true, mode: 0o600 });
    } catch (error) {
      throw new TypeError(
        `Cannot build telemetry_http_sampler: file "${config.file}": ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  let buffer: string[] = [];
  let buffered = 0;
  let sampled = 0;
  let failed = 0;
  const fail = (what: string, error: unknown) => {
    failed++;
    // Rate-limited per message by the provider of deps.log.
    deps.log?.("warn", `telemetry_http_sampler: ${what} failed`, { error: String(error), failed });
  };
  const flush = () => {
    if (file === undefined || buffer.length === 0) return;
    const bytes = encoder.encode(buffer.join(""));
    buffer = [];
    buffered = 0;
    try {
      let written = 0;
      while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
    } catch (error) {
      fail("write", error);
    }
  };

  return {
    name: "telemetry_http_sampler",
    run: function telemetryHttpSampler(record: HttpRecord, ctx: RequestContext): void {
      if (ctx.phase !== "first" || rate === 0 || random() >= rate) return;
      sampled++;
      const flags: string[] = [];
      for (const [name, on] of ctx.flags) if (on) flags.push(name);
      // A decoded record keeps its fields as getters on its prototype: spreading it would copy
      // its private byte buffers instead, so the fields are read out first.
      const json = JSON.stringify({
        ...toPlainRecord(record),
        failed_servers: String(record.failed_servers),
        remote_addr: ctx.ip,
        domain_id: ctx.domainId,
        time: ctx.now / 1000,
        flags,
        events: ctx.events,
      });
      if (deps.publish) {
        try {
          deps.publish(json);
        } catch (error) {
          fail("publish", error);
        }
      }
      if (file !== undefined) {
        buffer.push(json + "\n");
        buffered += json.length + 1;
        if (buffered >= FLUSH_BYTES) flush();
      }
    },
    sweep: flush,
    close(): void {
      flush();
      file?.close();
      file = undefined;
    },
    counters: () => ({ sampled, failed }),
  };
}
