/**
 * The few calls TrActor's store makes of a SQL database, so its SQL is written once and runs on
 * SQLite (`node:sqlite`, one host) and PostgreSQL (`pg`, several hosts sharing one queue). The
 * SQL is SQLite's and PostgreSQL's common ground, with `?` (or `?N`) placeholders; each driver
 * rewrites the little that differs (see {@linkcode portableSql}). Numbers come back as numbers
 * on both (PostgreSQL's bigint and numeric are parsed; every value the store keeps is far below
 * 2^53).
 * @module
 */

/** A value bound to a placeholder. */
export type SqlValue = string | number | null;

/** One result row, column name → value (`null` for SQL NULL). */
export type SqlRow = Record<string, string | number | null>;

/** Queries on one connection (or on one transaction's connection). */
export interface SqlExecutor {
  /** Every row of a query. */
  all(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>;
  /** The first row of a query, or undefined. */
  get(sql: string, params?: readonly SqlValue[]): Promise<SqlRow | undefined>;
  /** A statement without rows; resolves with the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /**
   * A one-row `INSERT … VALUES (?, …)` for many rows (PostgreSQL sends them as multi-row
   * statements, SQLite runs its prepared statement per row).
   */
  insertMany(sql: string, rows: readonly (readonly SqlValue[])[]): Promise<void>;
}

/** A database: queries, transactions, schema statements. */
export interface SqlDriver extends SqlExecutor {
  readonly dialect: "sqlite" | "postgres";
  /**
   * Runs `fn` in one transaction on one connection, committed when it resolves and rolled back
   * when it rejects. Queries made on the driver itself meanwhile wait for it (SQLite) or run on
   * other connections (PostgreSQL), never inside it.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Runs statements without parameters (schema). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Rewrites the common SQL for one dialect. PostgreSQL: `?`/`?N` become `$N`, and SQLite's
 * planner hint `INDEXED BY name` is dropped. SQLite: `FOR UPDATE [SKIP LOCKED]` is dropped (its
 * write transactions lock the whole database, so there are no row locks to take or skip). Placeholders
 * inside quoted strings are left alone.
 */
export function portableSql(sql: string, dialect: "sqlite" | "postgres"): string {
  if (dialect === "sqlite") return sql.replace(/\s+FOR\s+UPDATE(?:\s+SKIP\s+LOCKED)?\b/gi, "");
  let n = 0;
  let out = "";
  let quote: string | undefined;
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i]!;
    if (quote !== undefined) {
      out += ch;
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      out += ch;
    } else if (ch === "?") {
      const digits = /^\d+/.exec(sql.slice(i + 1))?.[0];
      if (digits !== undefined) {
        out += `$${digits}`;
        i += digits.length;
      } else {
        out += `$${++n}`;
      }
    } else {
      out += ch;
    }
  }
  return out.replace(/\s+INDEXED\s+BY\s+\w+/gi, "");
}

/** The `(?, …)` tuple of a one-row `INSERT … VALUES (…)`, and the text around it. */
export function valuesTuple(sql: string): { head: string; tuple: string; tail: string } {
  const m = /\bVALUES\s*(\([^()]*\))/i.exec(sql);
  if (!m) throw new SyntaxError(`Expected INSERT … VALUES (…) in: ${sql.slice(0, 80)}`);
  const at = m.index + m[0].length - m[1]!.length;
  return { head: sql.slice(0, at), tuple: m[1]!, tail: sql.slice(at + m[1]!.length) };
}

/** Where a store location points: a file path (SQLite) or a `postgres://` URL. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(location);
}

/** A PostgreSQL URL with its password replaced by `***`, for logs and errors. */
export function redactUrl(location: string): string {
  if (!isPostgresUrl(location)) return location;
  try {
    const url = new URL(location);
    if (url.password !== "") url.password = "***";
    for (const key of [...url.searchParams.keys()]) {
      if (/pass/i.test(key)) url.searchParams.set(key, "***");
    }
    return url.toString();
  } catch {
    return "postgres://(unparseable URL)";
  }
}
