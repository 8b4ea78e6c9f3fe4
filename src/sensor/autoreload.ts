import { basename, dirname, resolve } from "node:path";
import { COMPONENT_NAMES } from "../shared/config/components.ts";
import type { Settings } from "../shared/config/settings.ts";
import type { Logger } from "../shared/log/logger.ts";

/** Which configuration a reload re-reads: domain files or global component files. */
export type ReloadKind = "filters" | "components";

/** Timer functions; tests inject a manual scheduler. */
export interface AutoreloadTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  now(): number;
}

/** A directory watcher: `Deno.watchFs` by default. */
export type WatchFs = (path: string) => AsyncIterable<Deno.FsEvent> & { close(): void };

/** Options of {@linkcode Autoreload}. */
export interface AutoreloadOptions {
  settings: Pick<
    Settings,
    | "filters_config_dir"
    | "components_config_dir"
    | "autodiscover"
    | "autodiscover_interval"
    | "autoreload_filters"
    | "autoreload_components"
  >;
  /**
   * True for a domain file exactly as the API last wrote it (rewrite=1): no reload for that
   * event, which would drop other domains' in-memory changes for nothing.
   */
  isOwnWrite?(path: string): Promise<boolean>;
  /** Runs one reload (the sensor's `ConfigActions.reload`); it logs and counts its problems. */
  reload(what: ReloadKind, trigger: "autodiscover" | "autoreload"): Promise<unknown>;
  log: Logger;
  /** Quiet time after the last file event before reloading. Default 500 ms. */
  debounceMs?: number;
  /** Longest a stream of file events can hold a reload back. Default 10 × debounceMs. */
  maxWaitMs?: number;
  /**
   * Longest {@linkcode Autoreload.close} waits for a reload in progress before it gives up on
   * it (logged), so a reload stuck on a file can never hold SIGTERM. Default 5000 ms.
   */
  closeWaitMs?: number;
  timers?: AutoreloadTimers;
  watch?: WatchFs;
}

const DOMAIN_FILE = /^\d{1,10}\.json$/;
const COMPONENT_FILE = new RegExp(`^(?:${COMPONENT_NAMES.join("|")})\\.(?:yaml|yml|json)$`);
/** A Lua script as the lua component names it (components.ts `scripts[].file`). */
const LUA_FILE = /^[A-Za-z0-9_.-]+\.lua$/;

/**
 * True when a file name is one `reloadFilters`/`reloadComponents` reads (not a temp file); Lua
 * scripts count as component files, so an edited script reloads the domains that run it.
 */
export function isConfigFile(kind: ReloadKind, name: string): boolean {
  return kind === "filters"
    ? DOMAIN_FILE.test(name)
    : name === "default.conf" || COMPONENT_FILE.test(name) ||
      (LUA_FILE.test(name) && !name.startsWith("."));
}

/**
 * False for a path that exists and is not a regular file (a FIFO, socket, device or directory
 * named like a configuration file): it is never opened, so it cannot hang a read. A path that
 * is gone is a change too (a removed domain file).
 */
async function isRegularOrGone(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    return error instanceof Deno.errors.NotFound;
  }
}

interface Pending {
  timer: unknown;
  /** When the first event of the current burst arrived. */
  since: number;
  running: Promise<void> | undefined;
  /** Events arrived while a reload ran: run once more after it. */
  again: boolean;
  /** Files changed since the last reload started; undefined = unknown (reload regardless). */
  paths: Set<string> | undefined;
}

/**
 * The sensor's automatic reloads (SPEC §3): `autodiscover` re-reads filters_config_dir every
 * autodiscover_interval seconds; `autoreload_filters` / `autoreload_components` watch the
 * directories and reload after a burst of changes settles (debounced, one reload at a time, one
 * more if files changed during it). Reloads keep unchanged filters' state and the last good
 * configuration of broken files; that is the reload's job, this class only decides when.
 */
export class Autoreload {
  readonly #o: AutoreloadOptions;
  readonly #timers: AutoreloadTimers;
  readonly #debounce: number;
  readonly #maxWait: number;
  readonly #closeWait: number;
  readonly #pending: Record<ReloadKind, Pending> = {
    filters: { timer: undefined, since: 0, running: undefined, again: false, paths: new Set() },
    components: { timer: undefined, since: 0, running: undefined, again: false, paths: new Set() },
  };
  readonly #watchers: { close(): void }[] = [];
  readonly #loops: Promise<void>[] = [];
  #discoverTimer: unknown;
  #discovering: Promise<void> | undefined;
  #closed = false;

  constructor(options: AutoreloadOptions) {
    this.#o = options;
    this.#timers = options.timers ?? {
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (id) => clearTimeout(id as number),
      now: () => Date.now(),
    };
    this.#debounce = options.debounceMs ?? 500;
    this.#maxWait = options.maxWaitMs ?? this.#debounce * 10;
    this.#closeWait = options.closeWaitMs ?? 5000;
  }

  /** Starts the timer and watchers the settings ask for; a missing directory is logged. */
  async start(): Promise<void> {
    const s = this.#o.settings;
    if (s.autodiscover) this.#scheduleDiscover();
    const dirs: [string, ReloadKind][] = [];
    if (s.autoreload_filters) {
      // The first directory is where rewrite=1 writes: make sure it exists so it can be watched.
      await Deno.mkdir(s.filters_config_dir[0]!, { recursive: true }).catch(() => {});
      for (const dir of s.filters_config_dir) dirs.push([dir, "filters"]);
    }
    if (s.autoreload_components && s.components_config_dir !== "") {
      dirs.push([s.components_config_dir, "components"]);
    }
    const byDir = new Map<string, Set<ReloadKind>>();
    for (const [dir, kind] of dirs) {
      const key = resolve(dir);
      byDir.set(key, (byDir.get(key) ?? new Set()).add(kind));
    }
    for (const [dir, kinds] of byDir) this.#watchDir(dir, kinds);
  }

  #watchDir(dir: string, kinds: Set<ReloadKind>): void {
    let watcher;
    try {
      watcher = (this.#o.watch ?? ((path) => Deno.watchFs(path, { recursive: false })))(dir);
    } catch (error) {
      this.#o.log.log("warn", "cannot watch configuration directory; reload it through the API", {
        dir,
        error: (error as Error).message,
      });
      return;
    }
    this.#watchers.push(watcher);
    this.#loops.push((async () => {
      try {
        for await (const event of watcher) {
          for (const path of event.paths) {
            // Events for the directory itself or a subdirectory's entries are not ours.
            if (resolve(dirname(path)) !== dir) continue;
            const wanted = [...kinds].filter((kind) => isConfigFile(kind, basename(path)));
            if (wanted.length === 0) continue;
            if (!(await isRegularOrGone(path))) {
              this.#o.log.limited(
                `autoreload-special:${path}`,
                "warn",
                "not a regular file, ignored",
                {
                  path,
                },
              );
              continue;
            }
            for (const kind of wanted) this.notify(kind, path);
          }
        }
      } catch (error) {
        if (!this.#closed) {
          this.#o.log.log("error", "configuration watcher stopped", {
            dir,
            error: (error as Error).message,
          });
        }
      }
    })());
  }

  /**
   * A configuration file of `kind` changed (`path`, when known): reload once the burst of
   * changes settles.
   */
  notify(kind: ReloadKind, path?: string): void {
    if (this.#closed) return;
    const p = this.#pending[kind];
    if (path === undefined) p.paths = undefined;
    else p.paths?.add(path);
    const now = this.#timers.now();
    if (p.timer === undefined) p.since = now;
    else this.#timers.clearTimeout(p.timer);
    const wait = Math.max(0, Math.min(this.#debounce, p.since + this.#maxWait - now));
    p.timer = this.#timers.setTimeout(() => {
      p.timer = undefined;
      this.#fire(kind);
    }, wait);
  }

  #fire(kind: ReloadKind): void {
    const p = this.#pending[kind];
    if (p.running) {
      p.again = true;
      return;
    }
    const paths = p.paths;
    p.paths = new Set();
    p.running = this.#reloadUnlessOwn(kind, paths).then(
      () => {},
      (error) =>
        this.#o.log.log("error", "automatic reload failed", {
          what: kind,
          error: (error as Error).message,
        }),
    ).finally(() => {
      p.running = undefined;
      if (p.again && !this.#closed) {
        p.again = false;
        this.#fire(kind);
      }
    });
  }

  async #reloadUnlessOwn(kind: ReloadKind, paths: Set<string> | undefined): Promise<void> {
    // Checked when the burst has settled, so the API has recorded its write by now.
    const isOwn = this.#o.isOwnWrite;
    if (kind === "filters" && isOwn && paths && paths.size > 0) {
      let own = true;
      for (const path of paths) if (!(await isOwn(path))) own = false;
      if (own) return;
    }
    await this.#o.reload(kind, "autoreload");
  }

  #scheduleDiscover(): void {
    if (this.#closed) return;
    // Re-armed after each run, so a slow reload never overlaps the next one.
    this.#discoverTimer = this.#timers.setTimeout(() => {
      this.#discoverTimer = undefined;
      this.#discovering = this.#o.reload("filters", "autodiscover").then(
        () => {},
        (error) =>
          this.#o.log.log("error", "autodiscover failed", { error: (error as Error).message }),
      ).finally(() => {
        this.#discovering = undefined;
        this.#scheduleDiscover();
      });
    }, this.#o.settings.autodiscover_interval * 1000);
  }

  /** Stops timers and watchers and waits for a reload in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#discoverTimer !== undefined) this.#timers.clearTimeout(this.#discoverTimer);
    for (const p of Object.values(this.#pending)) {
      if (p.timer !== undefined) this.#timers.clearTimeout(p.timer);
      p.timer = undefined;
    }
    for (const watcher of this.#watchers) {
      try {
        watcher.close();
      } catch {
        // Already closed.
      }
    }
    await Promise.all(this.#loops);
    const running = Promise.all([
      this.#discovering,
      ...Object.values(this.#pending).map((p) => p.running),
    ]);
    let timer: unknown;
    const gaveUp = await Promise.race([
      running.then(() => false),
      new Promise<true>((resolve) => {
        timer = this.#timers.setTimeout(() => resolve(true), this.#closeWait);
      }),
    ]);
    this.#timers.clearTimeout(timer);
    if (gaveUp) {
      this.#o.log.log("warn", "stopping without waiting for a configuration reload in progress", {
        waited_ms: this.#closeWait,
      });
    }
  }
}
