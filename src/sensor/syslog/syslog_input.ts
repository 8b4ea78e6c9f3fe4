import { createSocket, type Socket } from "node:dgram";
import type { HttpRecord } from "../wire/record.ts";
import { nginxJsonRecord } from "./nginx_json_record.ts";

/** Options of {@linkcode SyslogInput}. */
export interface SyslogInputOptions {
  /** `udp://host:port` (`[tsng] syslog_input`); port 0 picks a free one. */
  endpoint: string;
  /** Receives each record with its domain; a returned promise is awaited before the next. */
  submit: (domain: number, record: HttpRecord) => void | Promise<void>;
  /** Domain of lines that do not name one. Default 8984. */
  domain?: number;
  /** Told about datagrams that are not our JSON log lines (rate limiting is the caller's). */
  onBad?: (reason: "not_json" | "no_message", sample: string) => void;
}

/** Counters of a {@linkcode SyslogInput}. */
export interface SyslogInputStats {
  datagrams: number;
  records: number;
  bad: number;
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
  readonly stats: SyslogInputStats = { datagrams: 0, records: 0, bad: 0 };
  readonly #o: SyslogInputOptions;
  #socket: Socket | undefined;
  #queue: Promise<void> = Promise.resolve();

  constructor(options: SyslogInputOptions) {
    parseUdpEndpoint(options.endpoint);
    this.#o = options;
  }

  /** Binds the socket; resolves the bound endpoint (`udp://127.0.0.1:<port>`). */
  start(): Promise<string> {
    const { host, port, v6 } = parseUdpEndpoint(this.#o.endpoint);
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
    this.stats.datagrams++;
    const text = decoder.decode(message);
    const json = syslogMessage(text);
    if (json === undefined) {
      this.stats.bad++;
      this.#o.onBad?.("no_message", text.slice(0, 200));
      return;
    }
    const logged = nginxJsonRecord(json);
    if (!logged) {
      this.stats.bad++;
      this.#o.onBad?.("not_json", json.slice(0, 200));
      return;
    }
    this.stats.records++;
    const domain = logged.domain ?? this.#o.domain ?? 8984;
    // In arrival order, one at a time, like the ZeroMQ ingest loop; a failure skips one line.
    this.#queue = this.#queue.then(() => this.#o.submit(domain, logged.record)).catch(() => {});
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
