/** Severity of a log line; lines below the logger's level are dropped. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A structured logger: one JSON object a line on stderr. */
export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  /**
   * Logs at most once per `intervalMs` for `key` (hot paths: bad input, Lua failures); the next
   * line that gets through carries `suppressed`, the count of lines dropped since.
   */
  limited(
    key: string,
    level: LogLevel,
    msg: string,
    fields?: Record<string, unknown>,
    intervalMs?: number,
  ): void;
}

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; default stderr. */
  write?: (line: string) => void;
  now?: () => number;
}

const encoder = new TextEncoder();

/** A JSON-lines logger with per-key rate limiting. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = ORDER[options.level ?? "info"];
  const write = options.write ??
    ((line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n")));
  const now = options.now ?? Date.now;
  const limits = new Map<string, { next: number; suppressed: number }>();
  const log = (level: LogLevel, msg: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[level] < min) return;
    write(JSON.stringify({ ts: new Date(now()).toISOString(), level, msg, ...fields }, replacer));
  };
  return {
    log,
    limited(key, level, msg, fields = {}, intervalMs = 60_000) {
      const t = now();
      const state = limits.get(key);
      if (state && t < state.next) {
        state.suppressed++;
        return;
      }
      if (limits.size > 10_000) limits.clear();
      const suppressed = state?.suppressed ?? 0;
      limits.set(key, { next: t + intervalMs, suppressed: 0 });
      log(level, msg, suppressed > 0 ? { ...fields, suppressed } : fields);
    },
  };
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return value.message;
  return value;
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = { log() {}, limited() {} };
