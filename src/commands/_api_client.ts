/**
 * What the commands that operate a running sensor over its REST API share (`qts bans`,
 * `qts status`): the connection options, a client whose every failure is one line for stderr,
 * and where they write.
 * @module
 */

/** Where a command writes and what it asks of the world: the process's, or a test's. */
export interface CommandIo {
  /** Writes a line (or lines) to stdout. */
  out(text: string): void;
  /** Writes a line to stderr. */
  err(text: string): void;
  /** Wall-clock time (ms), for "in 42 min". */
  now(): number;
  /** Waits `ms` (the sampling interval of `qts status --interval`). */
  sleep(ms: number): Promise<void>;
  /** Widest line of a table: the terminal's width, or 120 when stdout is not a terminal. */
  columns: number;
  /** Environment variable, or undefined (also when --allow-env does not cover it). */
  env(name: string): string | undefined;
  /** The fetch the client uses. */
  fetch: typeof fetch;
}

/** The process's stdout, stderr, clock, terminal width and environment. */
export function processIo(): CommandIo {
  let columns = 120;
  try {
    if (Deno.stdout.isTerminal()) columns = Math.max(60, Deno.consoleSize().columns);
  } catch { /* not a terminal */ }
  return {
    out: (text) => console.log(text),
    err: (text) => console.error(text),
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    columns,
    env(name) {
      try {
        return Deno.env.get(name);
      } catch {
        return undefined;
      }
    },
    fetch: (input, init) => fetch(input, init),
  };
}

/** The connection options every API command takes, for `parseCommandLine`. */
export const API_OPTIONS = {
  api: { type: "string", short: "a" },
  token: { type: "string" },
  "token-file": { type: "string" },
  json: { type: "boolean" },
} as const;

/** Help lines of {@linkcode API_OPTIONS}. */
export const API_HELP =
  `  -a, --api <url>        the sensor's REST API (default: $QTS_API, else http://127.0.0.1:4180)
  --token <token>        bearer token, the sensor's api_token (default: $QTS_API_TOKEN)
  --token-file <file>    read the token from a file (first line)
  --json                 print the API's data as one JSON document instead of tables`;

/** A failure of an API call, worded as the one line a command prints on stderr. */
export class ApiCallError extends Error {
  /** HTTP status, or 0 when no answer came. */
  readonly status: number;
  constructor(message: string, status: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "ApiCallError";
    this.status = status;
  }
}

/** Options of {@linkcode ApiClient}. */
export interface ApiClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:4180`. */
  api: string;
  /** Bearer token; "" sends none. */
  token: string;
  /** Longest wait for an answer. Default 10 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** The `{"status":"success", …}` envelope of every JSON answer. */
export type Envelope = Record<string, unknown> & { status: "success"; data?: unknown };

/**
 * A client of the sensor's REST API. Every failure is an {@linkcode ApiCallError} whose message
 * names the call and the reason in one line: no answer (refused, timeout, no permission), HTTP
 * 401 (with a hint about the token), or the API's own `exception` text.
 *
 * @example
 * ```ts
 * const client = new ApiClient({ api: "http://127.0.0.1:4180", token: "" });
 * const bans = await client.data("GET", "/bans");
 * ```
 */
export class ApiClient {
  readonly base: string;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: ApiClientOptions) {
    this.base = options.api.replace(/\/+$/, "");
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#fetch = options.fetch ?? fetch;
  }

  /** The JSON envelope of `method path`. */
  async envelope(method: string, path: string): Promise<Envelope> {
    const { status, text } = await this.#call(method, path);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ApiCallError(
        `${method} ${path}: HTTP ${status}, not a JSON answer: ${oneLine(text, 80)}`,
        status,
      );
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new ApiCallError(`${method} ${path}: HTTP ${status}, not a JSON object`, status);
    }
    const object = body as Record<string, unknown>;
    if (status >= 200 && status < 300 && object.status === "success") return object as Envelope;
    const exception = typeof object.exception === "string"
      ? object.exception
      : `status ${JSON.stringify(object.status)}`;
    throw new ApiCallError(`${method} ${path}: HTTP ${status}: ${oneLine(exception, 300)}`, status);
  }

  /** The `data` of the JSON answer to `method path`. */
  async data<T>(method: string, path: string): Promise<T> {
    return (await this.envelope(method, path)).data as T;
  }

  /** The text answer of `GET path` (`/metrics`). */
  async text(path: string): Promise<string> {
    const { status, text } = await this.#call("GET", path);
    if (status >= 200 && status < 300) return text;
    let reason = oneLine(text, 200);
    try {
      const exception = (JSON.parse(text) as { exception?: unknown }).exception;
      if (typeof exception === "string") reason = oneLine(exception, 300);
    } catch { /* not JSON */ }
    throw new ApiCallError(`GET ${path}: HTTP ${status}: ${reason}`, status);
  }

  async #call(method: string, path: string): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.#token !== "") headers.authorization = `Bearer ${this.#token}`;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new TimeoutError()), this.#timeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(`${this.base}${path}`, {
        method,
        headers,
        signal: abort.signal,
      });
      text = await response.text();
    } catch (error) {
      throw new ApiCallError(
        `cannot reach the qts API at ${this.base}: ${this.#reason(error)}`,
        0,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
    if (response.status === 401) {
      throw new ApiCallError(
        `${method} ${path}: HTTP 401: ${
          this.#token === "" ? "the API wants a token" : "the API refused the token"
        } (give the sensor's api_token with --token or --token-file)`,
        401,
      );
    }
    return { status: response.status, text };
  }

  #reason(error: unknown): string {
    if (error instanceof TimeoutError) {
      return `no answer within ${this.#timeoutMs / 1000} s`;
    }
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      return oneLine(message, 200);
    }
    // "error sending request for url (…): client error (Connect): tcp connect error: Connection
    // refused (os error 111)": the last clause is the reason.
    const clauses = message.split(": ").filter((c) => c.trim() !== "");
    return oneLine(clauses[clauses.length - 1] ?? message, 200);
  }
}

/** The abort reason of a call that got no answer in time. */
class TimeoutError extends Error {
  constructor() {
    super("timeout");
    this.name = "TimeoutError";
  }
}

/** Parsed connection options: a client, or the usage problem to print with exit code 2. */
export type ClientOrProblem = { client: ApiClient } | { problem: string };

/**
 * The client the options ask for: `--api` (else $QTS_API, else the default), the token from
 * `--token` or `--token-file` (else $QTS_API_TOKEN).
 */
export async function clientFromOptions(
  values: {
    api?: string | undefined;
    token?: string | undefined;
    "token-file"?: string | undefined;
  },
  io: CommandIo,
): Promise<ClientOrProblem> {
  const api = values.api ?? io.env("QTS_API") ?? "http://127.0.0.1:4180";
  let url: URL;
  try {
    url = new URL(api);
  } catch {
    return { problem: `--api "${api}" is not a URL (e.g. http://127.0.0.1:4180)` };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { problem: `--api "${api}" is not an http:// or https:// URL` };
  }
  if (values.token !== undefined && values["token-file"] !== undefined) {
    return { problem: "give --token or --token-file, not both" };
  }
  let token = values.token ?? "";
  if (values["token-file"] !== undefined) {
    try {
      token = (await Deno.readTextFile(values["token-file"])).split(/\r?\n/)[0]!.trim();
    } catch (error) {
      return { problem: `--token-file ${values["token-file"]}: ${(error as Error).message}` };
    }
  } else if (values.token === undefined) {
    token = io.env("QTS_API_TOKEN") ?? "";
  }
  const base = url.href.replace(/\/+$/, "");
  return { client: new ApiClient({ api: base, token, fetch: io.fetch }) };
}

/** `text` on one line (newlines as spaces), cut to `max` characters. */
function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? flat.slice(0, max - 1) + "…" : flat;
}
