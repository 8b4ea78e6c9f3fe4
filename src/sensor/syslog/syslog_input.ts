import { createSocket, type Socket } from "node:dgram";
import type { Metrics } from "../../shared/metrics/metrics.ts";
import type { HttpRecord } from "../wire/record.ts";
import { type NginxJsonProblem, readNginxJsonLine } from "./nginx_json_record.ts";
import { netAllowed } from "../../shared/net/net_allowed.ts";

/** Why a datagram gave no record: no JSON object in it, or one of {@linkcode NginxJsonProblem}. */
export type SyslogRejectReason = "no_json" | NginxJsonProblem;

const REASONS: readonly SyslogRejectReason[] = [
  "no_json",
  "bad_json",
  "not_object",
  "no_client",
  "no_time",
];

/** Options of {@linkcode SyslogInput}. */
export interface SyslogInputOptions {
  /** `udp://host:port` (`[tsng] syslog_input`); port 0 picks a free one. */
  endpoint: string;
  /** Receives each record with its domain; a returned promise is awaited before the next. */
  submit: (domain: number, record: HttpRecord) => void | Promise<void>;
  /** Domain of lines that do not name one. Default 8984. */
  domain?: number;
  /** Told about datagrams that are not our JSON log lines (rate limiting is the caller's). */
  onBad?: (reason: SyslogRejectReason, sample: string) => void;
  /**
   * Where the counters go for `/metrics`: `qts_syslog_datagrams_total`,
   * `qts_syslog_records_total`, `qts_syslog_rejected_total{reason}` and
   * `qts_syslog_submit_errors_total`, refreshed from {@linkcode SyslogInput.stats} at each render.
   */
  metrics?: Metrics;
}

/** Counters of a {@linkcode SyslogInput}. */
export interface SyslogInputStats {
  /** Datagrams received. */
  datagrams: number;
  /** Datagrams that became a record (accepted). */
  records: number;
  /** Datagrams that gave no record (the sum of `rejected`). */
  bad: number;
  /** Datagrams that gave no record, by reason. */
  rejected: Record<SyslogRejectReason, number>;
  /** Accepted records whose `submit` threw (the record is skipped). */
  submit_errors: number;
}

const decoder = new TextDecoder();

/** Parses `udp://127.0.0.1:5140` or `udp://[::1]:5140`. Throws TypeError. */
export function parseUdpEndpoint(text: string): { host: string; port: number; v6: boolean } {
  const m = /^udp:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text.trim());
  if (!m || Number(m[2]) > 65535) {
    throw new TypeError(`syslog_input "${text}" is not a udp://host:port endpoint`);
  }
  const v6 = m[1]!.startsWith("[");
  return { host: v6 ? m[1]!.slice(1, -1) : m[1]!, port: Number(m[2]), v6 };
}

/**
 * The JSON part of a syslog datagram as nginx sends it (`<190>Nov 26 12:00:00 host qts: {…}`,
 * RFC 3164): everything from the first `{`. Undefined when there is none.
 */
export function syslogMessage(datagram: string): string | undefined {
  const start = datagram.indexOf("{");
  if (start < 0) return undefined;
  let end = datagram.length;
  while (end > start && (datagram[end - 1] === "\n" || datagram[end - 1] === "\r")) end--;
  return datagram.slice(start, end);
}

/**
 * The sensor's second input (SPEC §2): a UDP syslog listener for stock nginx `access_log
 * syslog:` lines in the JSON log_format of config/nginx/qts.conf. Each line becomes the same
 * record the ZeroMQ input carries and is handed to `submit` in arrival order. Uses node:dgram,
 * which needs only --allow-net (Deno.listenDatagram still needs --unstable-net).
 */
export class SyslogInput {
  readonly stats: SyslogInputStats = {
    datagrams: 0,
    records: 0,
    bad: 0,
    rejected: Object.fromEntries(REASONS.map((r) => [r, 0])) as Record<SyslogRejectReason, number>,
    submit_errors: 0,
  };
  readonly #o: SyslogInputOptions;
  #socket: Socket | undefined;
  #queue: Promise<void> = Promise.resolve();

  constructor(options: SyslogInputOptions) {
    parseUdpEndpoint(options.endpoint);
    this.#o = options;
    if (options.metrics) this.#export(options.metrics);
  }

  #export(metrics: Metrics): void {
    const stats = this.stats;
    const datagrams = metrics.counter(
      "qts_syslog_datagrams_total",
      "Datagrams received on syslog_input",
    );
    const records = metrics.counter(
      "qts_syslog_records_total",
      "syslog_input datagrams accepted as records",
    );
    const rejected = REASONS.map((reason) =>
      [
        reason,
        metrics.counter(
          "qts_syslog_rejected_total",
          "syslog_input datagrams that gave no record, by reason",
          { reason },
        ),
      ] as const
    );
    const failed = metrics.counter(
      "qts_syslog_submit_errors_total",
      "syslog_input records the pipeline failed on (skipped)",
    );
    metrics.collect(() => {
      datagrams.value = stats.datagrams;
      records.value = stats.records;
      for (const [reason, series] of rejected) series.value = stats.rejected[reason];
      failed.value = stats.submit_errors;
    });
  }

  /**
   * Binds the socket; resolves the bound endpoint (`udp://127.0.0.1:<port>`). Rejects with
   * Deno.errors.NotCapable (Deno's own message, naming `host:port`) when --allow-net does not
   * cover the endpoint, and with the socket's error when the bind fails (address in use).
   */
  start(): Promise<string> {
    const { host, port, v6 } = parseUdpEndpoint(this.#o.endpoint);
    const access = `${v6 ? `[${host}]` : host}:${port}`;
    if (!netAllowed(access)) {
      return Promise.reject(
        new Deno.errors.NotCapable(
          `Requires net access to "${access}", run again with the --allow-net flag`,
        ),
      );
    }
    const socket = createSocket({ type: v6 ? "udp6" : "udp4" });
    this.#socket = socket;
    socket.on("message", (message: Uint8Array) => this.#receive(message));
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    socket.once("error", reject);
    socket.bind(port, host, () => {
      socket.off("error", reject);
      // A receive error after binding (ICMP noise) must not end the input.
      socket.on("error", () => {});
      const addr = socket.address();
      resolve(`udp://${v6 ? `[${addr.address}]` : addr.address}:${addr.port}`);
    });
    return promise;
  }

  #receive(message: Uint8Array): void {
    const stats = this.stats;
    stats.datagrams++;
    const text = decoder.decode(message);
    const json = syslogMessage(text);
    if (json === undefined) {
      stats.bad++;
      stats.rejected.no_json++;
      this.#o.onBad?.("no_json", text.slice(0, 200));
      return;
    }
    const logged = readNginxJsonLine(json);
    if (typeof logged === "string") {
      stats.bad++;
      stats.rejected[logged]++;
      this.#o.onBad?.(logged, json.slice(0, 200));
      return;
    }
    stats.records++;
    const domain = logged.domain ?? this.#o.domain ?? 8984;
    // In arrival order, one at a time, like the ZeroMQ ingest loop; a failure skips one line.
    this.#queue = this.#queue.then(() => this.#o.submit(domain, logged.record)).catch(() => {
      stats.submit_errors++;
    });
  }

  /** Waits until every record received so far has been submitted. */
  settled(): Promise<void> {
    return this.#queue;
  }

  /** Closes the socket and waits for submitted records. */
  async close(): Promise<void> {
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
    await this.#queue;
  }
}
