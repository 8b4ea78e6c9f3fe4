import { join, resolve } from "node:path";
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
  /**
   * Rejected files and domains that failed to build; their last good configuration is kept
   * (a domain file with none puts its domain on defaults, see `onDefaults`).
   */
  problems: string[];
  /** Domains whose effective configuration changed. */
  changed: number[];
  /** Domains that disappeared (their bans were lifted with `del`). */
  removed: number[];
  /** Domains whose file is broken with no good version to keep: on the global configuration. */
  onDefaults: number[];
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
  /** Versions of the Lua scripts in components_config_dir the chains were last built with. */
  #scripts: Map<string, string>;

  constructor(options: ConfigActionsOptions) {
    this.#o = options;
    // Read now, synchronously: the chains built before this were built on these versions.
    this.#scripts = luaScriptsSync(options.store.settings.components_config_dir);
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

  /**
   * Rebuilds the chains of domains that run Lua scripts, so an edited `<name>.lua` in
   * components_config_dir takes effect when no configuration text changed. Only the lua
   * component of a domain whose script changed is rebuilt (its key carries the script's
   * version, see `componentKey`); the other filters keep their state.
   */
  #reloadScripts(changed: Set<string>): void {
    if (changed.size === 0) return;
    const { store, pipeline } = this.#o;
    const queued = new Set(this.#applying.map(([id]) => id));
    for (const id of pipeline.domainIds()) {
      if (queued.has(id)) continue;
      const lua = store.domainConfig(id).lua;
      if (lua.enabled === false || !lua.scripts.some(({ file }) => changed.has(file))) continue;
      this.#applying.push([id, pipeline.reconfigure(id)]);
    }
  }

  /** The Lua scripts of components_config_dir added, edited or removed since the last look. */
  async #changedScripts(): Promise<Set<string>> {
    const before = this.#scripts;
    this.#scripts = await luaScripts(this.#o.store.settings.components_config_dir);
    const changed = new Set<string>();
    for (const [name, version] of this.#scripts) {
      if (before.get(name) !== version) changed.add(name);
    }
    for (const name of before.keys()) if (!this.#scripts.has(name)) changed.add(name);
    return changed;
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
      if (what === "components") this.#reloadScripts(await this.#changedScripts());
      const problems = rejected.map((p) =>
        p.message.startsWith(p.file) ? p.message : `${p.file}: ${p.message}`
      );
      problems.push(...await this.#settle());
      const report: ReloadReport = {
        problems,
        changed: change?.changed ?? [],
        removed: change?.removed ?? [],
        onDefaults: what === "filters" ? store.onDefaults() : [],
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
        // The problem says which: the last good configuration kept, or running on defaults.
        log.log("error", "configuration rejected", {
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

const LUA_FILE = /^[A-Za-z0-9_.-]+\.lua$/;

/** Version of a directory entry: its signature when a regular file (never opened). */
function entryVersion(info: Deno.FileInfo): string {
  if (!info.isFile) return "not a file";
  return `${info.mtime?.getTime()}:${info.ctime?.getTime()}:${info.size}:${info.ino ?? ""}`;
}

/** `<name>.lua` in `dir` → version; empty when there is no such directory. */
async function luaScripts(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (dir === "") return out;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!LUA_FILE.test(entry.name)) continue;
      const info = await Deno.stat(join(dir, entry.name)).catch(() => undefined);
      out.set(entry.name, info ? entryVersion(info) : "gone");
    }
  } catch { /* no directory: no scripts of ours (the embedded ones never change) */ }
  return out;
}

/** {@linkcode luaScripts}, synchronously. */
function luaScriptsSync(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  if (dir === "") return out;
  try {
    for (const entry of Deno.readDirSync(dir)) {
      if (!LUA_FILE.test(entry.name)) continue;
      let version = "gone";
      try {
        version = entryVersion(Deno.statSync(join(dir, entry.name)));
      } catch { /* removed meanwhile */ }
      out.set(entry.name, version);
    }
  } catch { /* no directory */ }
  return out;
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
