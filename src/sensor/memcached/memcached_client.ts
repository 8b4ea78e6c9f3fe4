/** Options of a {@linkcode MemcachedClient}. */
export interface MemcachedClientOptions {
  /** Server address, `host:port`. */
  server: string;
  /** A request with no answer after this many ms fails and drops the connection. Default 50. */
  timeoutMs?: number;
  /** First reconnect delay; doubles per failure up to `reconnectMaxMs`. Default 100. */
  reconnectMinMs?: number;
  /** Default 5000. */
  reconnectMaxMs?: number;
  /** Called on connection state changes (for logs and counters). */
  onState?(state: MemcachedState, error?: unknown): void;
}

/** Connection state: requests are only sent while `up`; otherwise they fail at once. */
export type MemcachedState = "connecting" | "up" | "down" | "closed";

/** A value read by `gets`: the text and its CAS unique. */
export interface CasValue {
  value: string;
  cas: string;
}

/** The reason a request failed without an answer from the server. */
export class MemcachedUnavailableError extends Error {
  override name = "MemcachedUnavailableError";
}

type Kind = "get" | "store" | "incr" | "delete";

interface Pending {
  kind: Kind;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  timer: ReturnType<typeof setTimeout>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const KEY = /^[\x21-\x7e]{1,250}$/;

/**
 * A small memcached text-protocol client on `Deno.connect`: get/gets/set/add/cas/incr/delete,
 * one pipelined connection, a deadline per request, reconnect with backoff. It never queues
 * while disconnected: a caller on the ingest path gets an immediate
 * {@linkcode MemcachedUnavailableError} and falls back, so a dead server costs nothing.
 */
export class MemcachedClient {
  readonly server: string;
  readonly #host: string;
  readonly #port: number;
  readonly #timeoutMs: number;
  readonly #reconnectMinMs: number;
  readonly #reconnectMaxMs: number;
  readonly #onState: ((state: MemcachedState, error?: unknown) => void) | undefined;
  #state: MemcachedState = "down";
  #conn: Deno.Conn | undefined;
  #pending: Pending[] = [];
  #head = 0;
  #buffer = new Uint8Array(0);
  #writing: Promise<void> = Promise.resolve();
  #backoff: number;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #readLoop: Promise<void> | undefined;
  #connecting: Promise<void> | undefined;

  constructor(options: MemcachedClientOptions) {
    const match = /^(.+):(\d{1,5})$/.exec(options.server);
    if (!match || Number(match[2]) > 65535) {
      throw new TypeError(`Cannot use memcached server "${options.server}": expected host:port`);
    }
    this.server = options.server;
    this.#host = match[1]!.replace(/^\[(.*)\]$/, "$1");
    this.#port = Number(match[2]);
    this.#timeoutMs = options.timeoutMs ?? 50;
    this.#reconnectMinMs = options.reconnectMinMs ?? 100;
    this.#reconnectMaxMs = options.reconnectMaxMs ?? 5000;
    this.#onState = options.onState;
    this.#backoff = this.#reconnectMinMs;
    this.#connect();
  }

  /** Current connection state. */
  get state(): MemcachedState {
    return this.#state;
  }

  /** Resolves once the first connection attempt has succeeded or failed. */
  ready(): Promise<void> {
    return this.#connecting ?? Promise.resolve();
  }

  /** Reads a value, or null when absent. */
  async get(key: string): Promise<string | null> {
    const found = await this.#request("get", `get ${checkKey(key)}\r\n`) as CasValue | null;
    return found === null ? null : found.value;
  }

  /** Reads a value with its CAS unique, or null when absent. */
  gets(key: string): Promise<CasValue | null> {
    return this.#request("get", `gets ${checkKey(key)}\r\n`) as Promise<CasValue | null>;
  }

  /** Stores unconditionally. */
  async set(key: string, value: string, exptime = 0): Promise<boolean> {
    return await this.#store("set", key, value, exptime, "") === "STORED";
  }

  /** Stores only when the key is absent; false when it exists. */
  async add(key: string, value: string, exptime = 0): Promise<boolean> {
    return await this.#store("add", key, value, exptime, "") === "STORED";
  }

  /** Stores only when the key still has CAS unique `cas`. */
  cas(
    key: string,
    value: string,
    exptime: number,
    cas: string,
  ): Promise<"STORED" | "EXISTS" | "NOT_FOUND"> {
    return this.#store("cas", key, value, exptime, ` ${cas}`) as Promise<
      "STORED" | "EXISTS" | "NOT_FOUND"
    >;
  }

  /** Adds `by` to a decimal value; null when the key is absent. */
  incr(key: string, by = 1): Promise<number | null> {
    if (!Number.isSafeInteger(by) || by < 0) {
      throw new RangeError(`Cannot incr memcached key by ${by}: expected a whole number ≥ 0`);
    }
    return this.#request("incr", `incr ${checkKey(key)} ${by}\r\n`) as Promise<number | null>;
  }

  /** Deletes a key; false when it was absent. */
  async delete(key: string): Promise<boolean> {
    return await this.#request("delete", `delete ${checkKey(key)}\r\n`) === "DELETED";
  }

  /** Closes the connection and stops reconnecting; pending requests fail. */
  async close(): Promise<void> {
    this.#setState("closed");
    clearTimeout(this.#reconnectTimer);
    this.#drop(new MemcachedUnavailableError(`memcached ${this.server}: client closed`));
    await this.#connecting?.catch(() => {});
    await this.#readLoop;
  }

  #store(cmd: string, key: string, value: string, exptime: number, tail: string) {
    const bytes = encoder.encode(value);
    const head = encoder.encode(`${cmd} ${checkKey(key)} 0 ${exptime} ${bytes.length}${tail}\r\n`);
    const message = new Uint8Array(head.length + bytes.length + 2);
    message.set(head);
    message.set(bytes, head.length);
    message.set([13, 10], head.length + bytes.length);
    return this.#request("store", message) as Promise<string>;
  }

  #request(kind: Kind, command: string | Uint8Array): Promise<unknown> {
    const conn = this.#conn;
    if (this.#state !== "up" || conn === undefined) {
      return Promise.reject(
        new MemcachedUnavailableError(`memcached ${this.server} is ${this.#state}`),
      );
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(
          new MemcachedUnavailableError(
            `memcached ${this.server}: no answer within ${this.#timeoutMs} ms`,
          ),
        );
      }, this.#timeoutMs);
      this.#pending.push({ kind, resolve, reject, timer });
      const bytes = typeof command === "string" ? encoder.encode(command) : command;
      this.#writing = this.#writing.then(() => writeAll(conn, bytes)).catch((error) => {
        if (this.#conn === conn) this.#fail(error);
      });
    });
  }

  #connect(): void {
    if (this.#state === "closed") return;
    this.#setState("connecting");
    this.#connecting = (async () => {
      try {
        const conn = await Deno.connect({ hostname: this.#host, port: this.#port });
        if (this.#state === "closed") {
          conn.close();
          return;
        }
        conn.setNoDelay(true);
        this.#conn = conn;
        this.#buffer = new Uint8Array(0);
        this.#backoff = this.#reconnectMinMs;
        this.#setState("up");
        this.#readLoop = this.#read(conn);
      } catch (error) {
        this.#setState("down", error);
        this.#scheduleReconnect();
      }
    })();
  }

  #scheduleReconnect(): void {
    if (this.#state === "closed") return;
    clearTimeout(this.#reconnectTimer);
    const delay = this.#backoff;
    this.#backoff = Math.min(this.#backoff * 2, this.#reconnectMaxMs);
    this.#reconnectTimer = setTimeout(() => this.#connect(), delay);
  }

  async #read(conn: Deno.Conn): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await conn.read(chunk);
        if (n === null) throw new MemcachedUnavailableError(`memcached ${this.server} closed`);
        const merged = new Uint8Array(this.#buffer.length + n);
        merged.set(this.#buffer);
        merged.set(chunk.subarray(0, n), this.#buffer.length);
        this.#buffer = merged;
        this.#parse();
      }
    } catch (error) {
      if (this.#conn === conn) this.#fail(error);
    }
  }

  /** Answers pending requests, in order, from complete responses in the buffer. */
  #parse(): void {
    let buffer = this.#buffer;
    let offset = 0;
    while (this.#head < this.#pending.length) {
      const pending = this.#pending[this.#head]!;
      const eol = indexOfCrlf(buffer, offset);
      if (eol < 0) break;
      const line = decoder.decode(buffer.subarray(offset, eol));
      let next = eol + 2;
      let result: unknown;
      let error: Error | undefined;
      if (line === "ERROR" || line.startsWith("CLIENT_ERROR") || line.startsWith("SERVER_ERROR")) {
        error = new Error(`memcached ${this.server}: ${line}`);
      } else if (pending.kind === "get") {
        if (line === "END") result = null;
        else {
          const parts = line.split(" ");
          if (parts[0] !== "VALUE" || parts.length < 4) {
            this.#fail(new Error(`memcached ${this.server}: unexpected "${line}"`));
            return;
          }
          const size = Number(parts[3]);
          const endLine = next + size + 2;
          if (buffer.length < endLine + 5) break; // data, CRLF and "END\r\n" not all here yet
          const value = decoder.decode(buffer.subarray(next, next + size));
          const end = indexOfCrlf(buffer, endLine);
          if (end < 0) break;
          result = { value, cas: parts[4] ?? "" };
          next = end + 2;
        }
      } else if (pending.kind === "incr") {
        result = line === "NOT_FOUND" ? null : Number(line);
      } else result = line;
      offset = next;
      this.#head++;
      clearTimeout(pending.timer);
      if (error) pending.reject(error);
      else pending.resolve(result);
    }
    if (this.#head > 1024 || this.#head === this.#pending.length) {
      this.#pending = this.#pending.slice(this.#head);
      this.#head = 0;
    }
    if (offset > 0) {
      buffer = buffer.slice(offset);
      this.#buffer = buffer;
    }
  }

  #fail(error: unknown): void {
    if (this.#state === "closed") return;
    this.#drop(error);
    this.#setState("down", error);
    this.#scheduleReconnect();
  }

  /** Closes the socket and rejects every pending request. */
  #drop(error: unknown): void {
    const conn = this.#conn;
    this.#conn = undefined;
    try {
      conn?.close();
    } catch {
      // Already closed by the peer.
    }
    const pending = this.#pending.slice(this.#head);
    this.#pending = [];
    this.#head = 0;
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(
        error instanceof MemcachedUnavailableError
          ? error
          : new MemcachedUnavailableError(`memcached ${this.server}: ${String(error)}`, {
            cause: error,
          }),
      );
    }
  }

  #setState(state: MemcachedState, error?: unknown): void {
    if (this.#state === state) return;
    if (this.#state === "closed") return;
    this.#state = state;
    this.#onState?.(state, error);
  }
}

function checkKey(key: string): string {
  if (!KEY.test(key)) {
    throw new TypeError(
      `Cannot use memcached key ${JSON.stringify(key)}: 1-250 printable characters`,
    );
  }
  return key;
}

function indexOfCrlf(buffer: Uint8Array, from: number): number {
  for (let i = from; i + 1 < buffer.length; i++) {
    if (buffer[i] === 13 && buffer[i + 1] === 10) return i;
  }
  return -1;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}
