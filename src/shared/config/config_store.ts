import { join } from "node:path";
import type { DomainConfig } from "./components.ts";
import { COMPONENT_NAMES, type ComponentName } from "./components.ts";
import {
  effectiveComponents,
  EMBEDDED_DEFAULT_CONF,
  layerComponent,
  parseComponent,
  parseDefaultConf,
  parseDocument,
  parseRawComponents,
  type RawComponents,
  rawComponents,
} from "./load_components.ts";
import type { Settings } from "./settings.ts";
import { writeFileAtomic } from "./write_file_atomic.ts";

/** A file that could not be loaded, kept so the API and metrics can report it. */
export interface LoadProblem {
  file: string;
  message: string;
}

/** What changed in a reload: domains whose effective configuration differs, and removed ones. */
export interface ConfigChange {
  changed: number[];
  removed: number[];
  /** True when the global components changed (every domain without its own object may differ). */
  global: boolean;
}

const DOMAIN_FILE = /^(\d{1,10})\.json$/;

/** True for a domain id as the API and file names accept it: a decimal u32. */
export function isDomainId(text: string): boolean {
  return /^\d{1,10}$/.test(text) && Number(text) <= 0xffffffff;
}

/**
 * The three configuration layers (SPEC §3) and the effective configuration of every domain:
 * embedded default.conf → components_config_dir → per-domain files and API changes. A file that
 * fails validation never replaces the last good version of what it configures.
 */
export class ConfigStore {
  #settings: Settings;
  #global: DomainConfig;
  /** Domain objects from files, by domain id: the fields each sets, laid over the global. */
  #files = new Map<number, RawComponents>();
  /** Domain objects set through the API without rewrite=1; live until the next reload. */
  #memory = new Map<number, RawComponents>();
  /** Domains deleted through the API; hidden until the next reload finds their files again. */
  #deleted = new Set<number>();
  #effective = new Map<number, DomainConfig>();
  #listeners: ((change: ConfigChange) => void)[] = [];
  /** Problems from the last load of each file, by path. */
  readonly problems = new Map<string, string>();
  /** Domains whose file is broken and never loaded: listed, on the global configuration. */
  #onDefaults = new Set<number>();

  constructor(settings: Settings) {
    this.#settings = settings;
    this.#global = parseDefaultConf(EMBEDDED_DEFAULT_CONF, "default.conf (embedded)");
  }

  /** The main settings this store was built with. */
  get settings(): Settings {
    return this.#settings;
  }

  /** Global component configuration: what a domain without its own object uses. */
  get global(): DomainConfig {
    return this.#global;
  }

  /**
   * Domains whose file failed to load with no good version loaded before (a restart with a
   * broken `<domain>.json`): they stay listed and run on the global configuration until the
   * file is fixed, and their problem says so.
   */
  onDefaults(): number[] {
    return [...this.#onDefaults].sort((a, b) => a - b);
  }

  /** Subscribes to configuration changes (pipeline rebuilds, list manager). */
  onChange(listener: (change: ConfigChange) => void): void {
    this.#listeners.push(listener);
  }

  /** Loads components and domain files; used at start. */
  async load(): Promise<void> {
    await this.reloadComponents();
    await this.reloadFilters();
  }

  /**
   * Domain ids with a configuration of their own, and every id `force_domains` names (those are
   * processed whatever happens to their own configuration), sorted.
   */
  domains(): number[] {
    const ids = new Set<number>([...this.#files.keys(), ...this.#memory.keys()]);
    for (const id of this.#deleted) ids.delete(id);
    if (Array.isArray(this.#settings.force_domains)) {
      for (const id of this.#settings.force_domains) ids.add(id);
    }
    return [...ids].sort((a, b) => a - b);
  }

  /** True when records of this domain are processed (force_domains). */
  accepts(domainId: number): boolean {
    const force = this.#settings.force_domains;
    return force === "*" || force.includes(domainId);
  }

  /** True when the domain has a configuration of its own (file, API, or force_domains id). */
  hasDomain(domainId: number): boolean {
    return this.domains().includes(domainId);
  }

  /**
   * The effective configuration of a domain. A domain without components of its own (every
   * domain `force_domains = *` lets in) gets the global object itself: nothing is built or
   * kept per domain id, and its filters share the global configuration's compiled parts.
   */
  domainConfig(domainId: number): DomainConfig {
    const known = this.#effective.get(domainId);
    if (known) return known;
    const own = this.ownComponents(domainId);
    if (!hasOwn(own)) return this.#global;
    const config = effectiveComponents(own, this.#global);
    this.#effective.set(domainId, config);
    return config;
  }

  /**
   * Replaces a domain's components (API PUT). Components not given, and fields a given one
   * leaves out, come from the global configuration. With `rewrite`, the domain file is written
   * atomically first; nothing changes when validation or the write fails.
   */
  async putDomain(domainId: number, body: unknown, rewrite: boolean): Promise<void> {
    await this.#commit(domainId, rawComponents(body, `domain ${domainId}`), rewrite);
  }

  /** Replaces one component of a domain (API PUT …/<component>), keeping its other objects. */
  async putComponent(
    domainId: number,
    component: string,
    body: unknown,
    rewrite: boolean,
  ): Promise<void> {
    const own = rawComponents({ [component]: body }, `domain ${domainId}`);
    await this.#commit(domainId, { ...this.ownComponents(domainId), ...own }, rewrite);
  }

  /**
   * Removes a domain's own configuration (API DELETE); its file, if any, stays until a reload.
   * A domain whose records are still processed (force_domains) goes back to the global
   * configuration — a change, not a removal, so the global projections keep their bans.
   */
  deleteDomain(domainId: number): void {
    this.#memory.delete(domainId);
    this.#deleted.add(domainId);
    this.#effective.delete(domainId);
    const forced = Array.isArray(this.#settings.force_domains)
      ? this.#settings.force_domains.includes(domainId)
      : this.#settings.force_domains === "*";
    this.#emit({
      changed: forced ? [domainId] : [],
      removed: forced ? [] : [domainId],
      global: false,
    });
  }

  /** The component fields a domain sets itself (what `rewrite=1` writes). */
  ownComponents(domainId: number): RawComponents {
    if (this.#deleted.has(domainId)) return {};
    return this.#memory.get(domainId) ?? this.#files.get(domainId) ?? {};
  }

  async #commit(
    domainId: number,
    partial: RawComponents,
    rewrite: boolean,
  ): Promise<void> {
    if (rewrite) {
      const dir = this.#settings.filters_config_dir[0]!;
      await Deno.mkdir(dir, { recursive: true });
      await writeFileAtomic(
        join(dir, `${domainId}.json`),
        JSON.stringify(ordered(partial), null, 2) + "\n",
      );
      this.#files.set(domainId, partial);
      this.#onDefaults.delete(domainId);
      this.#memory.delete(domainId);
    } else {
      this.#memory.set(domainId, partial);
    }
    this.#deleted.delete(domainId);
    this.#effective.delete(domainId);
    this.#emit({ changed: [domainId], removed: [], global: false });
  }

  /**
   * Re-reads every domain file (reload_filters, autodiscover). In-memory API changes and API
   * deletions are dropped, as the seed says. A broken file keeps that domain's last good object;
   * one with none (at start) keeps the domain listed on the global configuration
   * ({@linkcode onDefaults}), so it is neither unknown nor silently unprotected.
   * Returns the problems found; the caller decides whether they make the call an error.
   */
  async reloadFilters(): Promise<LoadProblem[]> {
    const problems: LoadProblem[] = [];
    const found = new Map<number, RawComponents>();
    const onDefaults = new Set<number>();
    // Later directories first, so the first directory (where rewrite=1 writes) wins.
    for (const dir of [...this.#settings.filters_config_dir].reverse()) {
      const entries: Deno.DirEntry[] = [];
      try {
        for await (const entry of Deno.readDir(dir)) entries.push(entry);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) {
          problems.push({
            file: dir,
            message: `cannot read directory: ${(error as Error).message}`,
          });
        }
        continue;
      }
      for (const entry of entries) {
        const match = DOMAIN_FILE.exec(entry.name);
        if (!entry.isFile || !match) continue;
        const id = Number(match[1]);
        const file = join(dir, entry.name);
        try {
          const own = parseRawComponents(await Deno.readTextFile(file), file);
          // Laid over the global now, so a field that only fails with it is found at load.
          effectiveComponents(own, this.#global, file);
          found.set(id, own);
          onDefaults.delete(id);
          this.problems.delete(file);
        } catch (error) {
          let message = (error as Error).message;
          const previous = this.#files.get(id);
          if (previous && !this.#onDefaults.has(id)) {
            found.set(id, previous);
          } else if (!found.has(id)) {
            // Nothing good to keep: listed, on the global configuration, and said so.
            found.set(id, {});
            onDefaults.add(id);
            message += ` (no good version loaded: domain ${id} running on defaults)`;
          }
          problems.push({ file, message });
          this.problems.set(file, message);
        }
      }
    }
    // The global components do not change here, so a domain's effective configuration changes
    // exactly when its own objects do: comparing those avoids building every domain's config.
    const before = this.#ownSnapshot();
    this.#files = found;
    this.#onDefaults = onDefaults;
    this.#memory.clear();
    this.#deleted.clear();
    const after = this.#ownSnapshot();
    const changed: number[] = [];
    for (const [id, text] of after) {
      if (before.get(id) !== text) {
        changed.push(id);
        this.#effective.delete(id);
      }
    }
    const removed = [...before.keys()].filter((id) => !after.has(id));
    for (const id of removed) this.#effective.delete(id);
    this.#emit({ changed, removed, global: false });
    return problems;
  }

  /**
   * Re-reads components_config_dir (reload_components): default.conf there replaces the embedded
   * one, `<component>.yaml|yml|json` set the fields they name of one component. Broken files keep the previous
   * value of what they configure.
   */
  async reloadComponents(): Promise<LoadProblem[]> {
    const problems: LoadProblem[] = [];
    const dir = this.#settings.components_config_dir;
    let base = this.#global;
    try {
      base = parseDefaultConf(EMBEDDED_DEFAULT_CONF, "default.conf (embedded)");
    } catch (error) {
      problems.push({ file: "default.conf (embedded)", message: (error as Error).message });
    }
    const next: Record<string, unknown> = { ...base };
    if (dir !== "") {
      const local = join(dir, "default.conf");
      const text = await readOptional(local);
      if (text !== undefined) {
        try {
          Object.assign(next, parseDefaultConf(text, local));
          this.problems.delete(local);
        } catch (error) {
          problems.push({ file: local, message: (error as Error).message });
          this.problems.set(local, (error as Error).message);
          Object.assign(next, this.#global);
        }
      }
      for (const name of COMPONENT_NAMES) {
        for (const ext of ["yaml", "yml", "json"]) {
          const file = join(dir, `${name}.${ext}`);
          const text = await readOptional(file);
          if (text === undefined) continue;
          try {
            // The file's fields over default.conf's component; what it leaves out stays.
            const own = parseDocument(text, file);
            parseComponent(name, own, file);
            next[name] = layerComponent(
              name,
              own as Record<string, unknown>,
              next[name] as DomainConfig[ComponentName],
              file,
            );
            this.problems.delete(file);
          } catch (error) {
            problems.push({ file, message: (error as Error).message });
            this.problems.set(file, (error as Error).message);
            next[name] = this.#global[name as ComponentName];
          }
          break;
        }
      }
    }
    const before = new Map(this.#effectiveSnapshot());
    const changed = JSON.stringify(next) !== JSON.stringify(this.#global);
    this.#global = next as unknown as DomainConfig;
    this.#effective.clear();
    const diff = this.#diff(before, changed);
    if (changed || diff.changed.length > 0) this.#emit(diff);
    return problems;
  }

  #ownSnapshot(): Map<number, string> {
    const out = new Map<number, string>();
    for (const id of this.domains()) out.set(id, JSON.stringify(this.ownComponents(id)));
    return out;
  }

  *#effectiveSnapshot(): Iterable<[number, string]> {
    for (const id of this.domains()) yield [id, JSON.stringify(this.domainConfig(id))];
  }

  #diff(before: Map<number, string>, global: boolean): ConfigChange {
    const changed: number[] = [];
    const removed: number[] = [];
    const now = new Map(this.#effectiveSnapshot());
    for (const [id, text] of now) if (before.get(id) !== text) changed.push(id);
    for (const id of before.keys()) if (!now.has(id)) removed.push(id);
    return { changed, removed, global };
  }

  #emit(change: ConfigChange): void {
    for (const listener of this.#listeners) listener(change);
  }
}

/** True when a domain sets at least one component itself. */
function hasOwn(own: RawComponents): boolean {
  for (const name of COMPONENT_NAMES) if (own[name] !== undefined) return true;
  return false;
}

function ordered(partial: RawComponents): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of COMPONENT_NAMES) if (partial[name]) out[name] = partial[name];
  return out;
}

/**
 * A file's text, or undefined when there is none. Only a regular file is opened: a FIFO (or a
 * device) named like a configuration file would block the read, and with it every reload and
 * the shutdown that waits for one; it counts as no file.
 */
async function readOptional(file: string): Promise<string | undefined> {
  try {
    const info = await Deno.stat(file);
    if (!info.isFile) return undefined;
    return await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}
