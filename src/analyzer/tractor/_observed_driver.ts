/**
 * A {@linkcode SqlDriver} that reports every failed call before passing the rejection on, so
 * TrActor counts store errors in one place whatever the caller (API, runner, job worker) does
 * with them. Only the outermost call reports: a query failing inside a transaction surfaces once,
 * as the transaction's failure.
 * @module
 */
import type { SqlDriver, SqlExecutor } from "./sql_driver.ts";

/** What kind of call failed: a single query, a transaction, or schema statements. */
export type StoreOperation = "query" | "transaction" | "schema";

/** Wraps `driver`; `onError` sees each failure once, then the caller gets it unchanged. */
export function observedDriver(
  driver: SqlDriver,
  onError: (operation: StoreOperation, error: unknown) => void,
): SqlDriver {
  const watch = async <T>(operation: StoreOperation, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      onError(operation, error);
      throw error;
    }
  };
  const query: SqlExecutor = {
    all: (sql, params) => watch("query", () => driver.all(sql, params)),
    get: (sql, params) => watch("query", () => driver.get(sql, params)),
    run: (sql, params) => watch("query", () => driver.run(sql, params)),
    insertMany: (sql, rows) => watch("query", () => driver.insertMany(sql, rows)),
  };
  return {
    ...query,
    dialect: driver.dialect,
    transaction: (fn) => watch("transaction", () => driver.transaction(fn)),
    exec: (sql) => watch("schema", () => driver.exec(sql)),
    close: () => driver.close(),
  };
}
