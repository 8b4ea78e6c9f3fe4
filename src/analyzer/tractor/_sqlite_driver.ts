/**
 * The SQLite {@linkcode SqlDriver}: `node:sqlite` (synchronous) behind the async interface, WAL,
 * prepared statements cached by text. A transaction holds the connection: queries made outside
 * it wait until it ends, so nothing lands inside another caller's transaction.
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { OrderedMap } from "../../shared/cache/ordered_map.ts";
import {
  portableSql,
  type SqlDriver,
  type SqlExecutor,
  type SqlRow,
  type SqlValue,
} from "./sql_driver.ts";

/** Cached statements at most (the store's SQL is a fixed set; `IN (?, …)` lists vary). */
const MAX_CACHED = 256;

/** Opens (creating) the SQLite database at `path`. */
export function sqliteDriver(path: string): SqlDriver & { readonly db: DatabaseSync } {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA busy_timeout = 10000");
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA foreign_keys = OFF");
  const cache = new OrderedMap<string, StatementSync>();
  const stmt = (sql: string): StatementSync => {
    let s = cache.get(sql);
    if (!s) {
      if (cache.size >= MAX_CACHED) cache.deleteOldest();
      s = db.prepare(portableSql(sql, "sqlite"));
      cache.set(sql, s);
    }
    return s;
  };
  const direct: SqlExecutor = {
    all: (sql, params = []) => Promise.resolve(stmt(sql).all(...params) as SqlRow[]),
    get: (sql, params = []) => Promise.resolve(stmt(sql).get(...params) as SqlRow | undefined),
    run: (sql, params = []) => Promise.resolve(Number(stmt(sql).run(...params).changes)),
    insertMany(sql, rows) {
      const s = stmt(sql);
      for (const row of rows) s.run(...(row as SqlValue[]));
      return Promise.resolve();
    },
  };
  // The open transaction, if any. Each waiter checks and takes it in the same microtask as it
  // wakes (no await in between), so two never both see it free.
  let open: Promise<void> | undefined;
  // A query outside a transaction runs once none is open, in the same microtask as the check
  // (else a transaction begun in between would take it in).
  const whenIdle = async <T>(op: () => Promise<T>): Promise<T> => {
    while (open) await open;
    return op();
  };
  return {
    dialect: "sqlite",
    db,
    all: (sql, params) => whenIdle(() => direct.all(sql, params)),
    get: (sql, params) => whenIdle(() => direct.get(sql, params)),
    run: (sql, params) => whenIdle(() => direct.run(sql, params)),
    insertMany: (sql, rows) => whenIdle(() => direct.insertMany(sql, rows)),
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      while (open) await open;
      const done = Promise.withResolvers<void>();
      open = done.promise;
      try {
        db.exec("BEGIN IMMEDIATE");
        try {
          const out = await fn(direct);
          db.exec("COMMIT");
          return out;
        } catch (error) {
          db.exec("ROLLBACK");
          throw error;
        }
      } finally {
        open = undefined;
        done.resolve();
      }
    },
    async exec(sql) {
      while (open) await open;
      db.exec(sql);
    },
    async close() {
      while (open) await open;
      db.close();
    },
  };
}
