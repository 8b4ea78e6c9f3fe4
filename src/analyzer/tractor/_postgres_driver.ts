/**
 * The PostgreSQL {@linkcode SqlDriver}: the `pg` client's pool, the common SQL rewritten by
 * {@linkcode portableSql}, bigint and numeric results parsed to numbers, and a transaction on
 * one pooled connection. The URL's password is never put in a log line or an error message.
 * @module
 */
import pg from "pg";
import {
  portableSql,
  redactUrl,
  type SqlDriver,
  type SqlExecutor,
  type SqlRow,
  type SqlValue,
  valuesTuple,
} from "./sql_driver.ts";

/** PostgreSQL's limit is 65,535 parameters a statement; stay well under it. */
const MAX_PARAMS = 30_000;

const INT8 = 20;
const NUMERIC = 1700;

/** Type parsers of this pool only (pg's global `types` would change every other pool too). */
const types = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === INT8 || oid === NUMERIC) return (text: string) => Number(text);
    return pg.types.getTypeParser(oid, format ?? "text");
  },
};

function hasPassword(url: string): boolean {
  try {
    return new URL(url).password !== "";
  } catch {
    return false;
  }
}

function envPassword(): string | undefined {
  try {
    return Deno.env.get("PGPASSWORD");
  } catch {
    return undefined; // --allow-env does not cover it
  }
}

type Queryable = { query(text: string, values?: unknown[]): Promise<pg.QueryResult> };

function executor(client: Queryable): SqlExecutor {
  const query = (sql: string, params: readonly SqlValue[] = []) =>
    client.query(portableSql(sql, "postgres"), params as SqlValue[]);
  return {
    all: async (sql, params) => (await query(sql, params)).rows as SqlRow[],
    get: async (sql, params) => (await query(sql, params)).rows[0] as SqlRow | undefined,
    run: async (sql, params) => (await query(sql, params)).rowCount ?? 0,
    async insertMany(sql, rows) {
      if (rows.length === 0) return;
      const { head, tuple, tail } = valuesTuple(sql);
      const width = rows[0]!.length;
      const per = Math.max(1, Math.floor(MAX_PARAMS / Math.max(1, width)));
      for (let i = 0; i < rows.length; i += per) {
        const chunk = rows.slice(i, i + per);
        const text = head + chunk.map(() => tuple).join(", ") + tail;
        await query(text, chunk.flat());
      }
    },
  };
}

/** Options of {@linkcode postgresDriver}. */
export interface PostgresDriverOptions {
  /** Connections in the pool. Default 4. */
  max?: number;
  /** Name shown in `pg_stat_activity`. */
  applicationName?: string;
}

/** Connects to PostgreSQL at `url` (checked with one query, so a bad URL fails at start). */
export async function postgresDriver(
  url: string,
  options: PostgresDriverOptions = {},
): Promise<SqlDriver> {
  const pool = new pg.Pool({
    connectionString: url,
    // No password in the URL: $PGPASSWORD if set, else none (trust, cert or peer auth). Given
    // as a function so pg never looks for ~/.pgpass (which would need $HOME).
    ...(hasPassword(url) ? {} : { password: envPassword }),
    max: options.max ?? 4,
    application_name: options.applicationName ?? "qts tractor",
    connectionTimeoutMillis: 15_000,
    types,
  });
  // An idle connection's error (the server restarted) is reported by the next query; without a
  // listener the pool's "error" event would end the process.
  pool.on("error", () => {});
  try {
    await pool.query("SELECT 1");
  } catch (cause) {
    await pool.end().catch(() => {});
    const message = (cause as Error).message.replaceAll(url, redactUrl(url));
    throw new Error(`Cannot connect to PostgreSQL ${redactUrl(url)}: ${message}`);
  }
  const direct = executor(pool);
  return {
    dialect: "postgres",
    ...direct,
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query("BEGIN");
        try {
          const out = await fn(executor(client));
          await client.query("COMMIT");
          return out;
        } catch (error) {
          await client.query("ROLLBACK").catch(() => broken = true);
          throw error;
        }
      } finally {
        client.release(broken);
      }
    },
    async exec(sql) {
      await pool.query(sql);
    },
    async close() {
      await pool.end();
    },
  };
}
