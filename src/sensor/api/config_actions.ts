import { resolve } from "node:path";
import type { ConfigChange, ConfigStore } from "../../shared/config/config_store.ts";
import { effectiveComponents, rawComponents } from "../../shared/config/load_components.ts";
import type { Pipeline } from "../ingest/pipeline.ts";
import type { Logger } from "../../shared/log/logger.ts";
import type { Metrics } from "../../shared/metrics/metrics.ts";

/** Options of {@linkcode ConfigActions}. */
export interface ConfigActionsOptions {
  store: ConfigStore;
  pipeline: Pipeline;
  metrics: Metrics;
  log: Logger;
}

/** What asked for a reload: an API call, the autodiscover timer, or a watched file. */
export type ReloadTrigger = "api" | "autodiscover" | "autoreload";

/** Outcome of {@linkcode ConfigActions.reload}. */
export interface ReloadReport {
  /** Rejected files and domains that failed to build; their last good configuration is kept. */
  problems: string[];
  /** Domains whose effective configuration changed. */
  changed: number[];
  /** Domains that disappeared (their bans were lifted with `del`). */
  removed: number[];
}

/**
 * Every configuration change the sensor makes at run time (API PUT/DELETE, reloads,
 * autodiscover, file watching), one at a time: validate the candidate, build its filters in a
 * throwaway chain, commit it to the store, then wait until the domain's chain and projections
 * run it. A rejected change throws before anything is committed. Ingest is never held: records
 * keep running on the previous chain until the new one is swapped in.
 */
export class ConfigActions {
  readonly #o: ConfigActionsOptions;
  #tail: Promise<unknown> = Promise.resolve();
  /** What the store's last change set in motion: the pipeline's runs for each domain. */
  #applying: [number, Promise<void>][] = [];
  /** Domains the store's last change removed; the pipeline lifts their bans in its queue. */
  #removed: number[] = [];
  #lastChange: ConfigChange | undefined;
  /** Domain files this process wrote or removed (rewrite=1), by absolute path → signature. */
  readonly #ownWrites = new Map<string, string>();

  constructor(options: ConfigActionsOptions) {
    this.#o = options;
    options.store.onChange((change) => {
      // The pipeline's own listener has queued (or, if registered later, will share) these
      // runs; asking here in the same tick shares them, so each change is built once.
      const { pipeline } = this.#o;
      const ids = change.global
        ? [...new Set([...pipeline.domainIds(), ...change.changed])]
        : change.changed;
      for (const id of ids) this.#applying.push([id, pipeline.reconfigure(id)]);
      this.#removed.push(...change.removed);
      this.#lastChange = change;
    });
  }

  /** Runs `task` after every change queued before it. */
  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task);
    this.#tail = run.catch(() => {});
    return run;
  }

  /** Waits for the runs the store's changes started; returns their errors by domain. */
  async #settle(): Promise<string[]> {
    const applying = this.#applying;
    this.#applying = [];
    for (const id of this.#removed) applying.push([id, this.#o.pipeline.settled(id)]);
    this.#removed = [];
    const errors: string[] = [];
    const results = await Promise.allSettled(applying.map(([, p]) => p));
    results.forEach((result, i) => {
      if (result.status === "rejected") {
        const message = (result.reason as Error).message;
        const id = applying[i]![0];
        errors.push(message.includes(`domain ${id}`) ? message : `domain ${id}: ${message}`);
      }
    });
    return errors;
  }

  /**
   * PUT /filters/<domain>: replaces the domain's components with `body`'s; the others come from
   * the global configuration. `rewrite` also saves `<domain>.json` atomically.
   */
  putDomain(domainId: number, body: unknown, rewrite: boolean): Promise<void> {
    return this.#exclusive(async () => {
      const { store, pipeline } = this.#o;
      const own = rawComponents(body, `domain ${domainId}`);
      await pipeline.check(domainId, effectiveComponents(own, store.global));
      await store.putDomain(domainId, body, rewrite);
      if (rewrite) await this.#remember(domainId);
      await this.#applied();
    });
  }

  /** PUT /filters/<domain>/<component>: replaces one component, keeping the domain's others. */
  putComponent(domainId: number, component: string, body: unknown, rewrite: boolean) {
    return this.#exclusive(async () => {
      const { store, pipeline } = this.#o;
      const own = rawComponents({ [component]: body }, `domain ${domainId}`);
      const candidate = { ...store.ownComponents(domainId), ...own };
      await pipeline.check(domainId, effectiveComponents(candidate, store.global));
      await store.putComponent(domainId, component, body, rewrite);
      if (rewrite) await this.#remember(domainId);
      await this.#applied();
    });
  }

  /**
   * DELETE /filters/<domain>: forgets the domain's configuration and lifts its bans (`del` for
   * each). With `rewrite`, its file in the first filters_config_dir is removed too, so the next
   * reload does not bring it back. Throws RangeError for a domain without a configuration.
   */
  deleteDomain(domainId: number, rewrite: boolean): Promise<void> {
    return this.#exclusive(async () => {
      const { store } = this.#o;
      if (!store.hasDomain(domainId)) throw new RangeError(`unknown domain ${domainId}`);
      if (rewrite) {
        const file = this.#domainFile(domainId);
        try {
          await Deno.remove(file);
        } catch (error) {
          if (!(error instanceof Deno.errors.NotFound)) {
            throw new Error(`cannot remove ${file}: ${(error as Error).message}`, {
              cause: error,
            });
          }
        }
      }
      if (rewrite) await this.#remember(domainId);
      store.deleteDomain(domainId);
      await this.#applied();
      this.#o.log.log("info", "domain configuration deleted", { domain: domainId, rewrite });
    });
  }

  #domainFile(domainId: number): string {
    return resolve(this.#o.store.settings.filters_config_dir[0]!, `${domainId}.json`);
  }

  async #remember(domainId: number): Promise<void> {
    const file = this.#domainFile(domainId);
    this.#ownWrites.set(file, await signature(file));
  }

  /**
   * True when a domain file is exactly as this process last wrote (or removed) it through
   * rewrite=1: the file watcher then need not reload, which would also drop other domains'
   * in-memory changes. An edit by anyone else changes the signature (mtime, size).
   */
  async isOwnWrite(path: string): Promise<boolean> {
    const file = resolve(path);
    const known = this.#ownWrites.get(file);
    return known !== undefined && known === await signature(file);
  }

  async #applied(): Promise<void> {
    const errors = await this.#settle();
    if (errors.length > 0) throw new Error(errors.join("; "));
  }

  /**
   * Re-reads domain files (`filters`) or global component files (`components`). Broken files and
   * domains whose filters fail to build keep their last good configuration; they are logged,
   * counted (`qts_reloads_total{result="error"}`, `qts_config_files_rejected`) and returned.
   */
  reload(what: "filters" | "components", trigger: ReloadTrigger): Promise<ReloadReport> {
    return this.#exclusive(async () => {
      const { store, metrics, log } = this.#o;
      this.#lastChange = undefined;
      const rejected = what === "filters"
        ? await store.reloadFilters()
        : await store.reloadComponents();
      const change = this.#lastChange as ConfigChange | undefined;
      const problems = rejected.map((p) =>
        p.message.startsWith(p.file) ? p.message : `${p.file}: ${p.message}`
      );
      problems.push(...await this.#settle());
      const report: ReloadReport = {
        problems,
        changed: change?.changed ?? [],
        removed: change?.removed ?? [],
      };
      metrics.inc("qts_reloads_total", "Configuration reloads, by what, trigger and result", {
        what,
        trigger,
        result: problems.length > 0 ? "error" : "ok",
      });
      metrics.set(
        "qts_config_files_rejected",
        "Configuration files whose last load failed (the previous version stays in force)",
        {},
        store.problems.size,
      );
      for (const problem of problems) {
        log.log("error", "configuration rejected, last good configuration kept", {
          what,
          trigger,
          error: problem,
        });
      }
      if (report.changed.length > 0 || report.removed.length > 0) {
        log.log("info", "configuration reloaded", {
          what,
          trigger,
          changed: report.changed,
          removed: report.removed,
        });
      }
      return report;
    });
  }
}

/** mtime, ctime, size and inode of a file (a rename-over gives a new inode), or "gone". */
async function signature(file: string): Promise<string> {
  try {
    const info = await Deno.stat(file);
    return `${info.mtime?.getTime()}:${info.ctime?.getTime()}:${info.size}:${info.ino ?? ""}`;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "gone";
    throw error;
  }
}
