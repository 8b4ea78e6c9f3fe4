import { join } from "node:path";
import type { ComponentName, DomainConfig } from "../../shared/config/components.ts";
import type { HttpRecord } from "../wire/record.ts";
import { type FilterInstance, hasAnyFlag, type RequestContext } from "./types.ts";

/**
 * The chain's steps: the seed's nine in the fixed order of seed §2.2.3.1 (fixed_lists and lua
 * run twice), then ours after them (source classification, geo zones, probing, responses).
 */
export const CHAIN_ORDER = [
  "ua_parser",
  "location_flags",
  "fixed_lists:early",
  "lua:allow",
  "fixed_lists:late",
  "lua:deny",
  "many_uas",
  "limit_req_mc",
  "request_hash_score",
  "trusted_sources",
  "geo_zones",
  "probe_detector",
  "response_status",
] as const;

/** One step of the chain as its factory built it. */
export type StepName = (typeof CHAIN_ORDER)[number];

/** Builds the filters of one component from its config; a two-step component returns both. */
export type ComponentBuilder = (
  config: DomainConfig,
  domainId: number,
) => Promise<Partial<Record<StepName, FilterInstance>>>;

/** Observers run after the chain on every record (stats, telemetry): they read, never flag. */
export type ObserverBuilder = (
  config: DomainConfig,
  domainId: number,
) => Promise<FilterInstance | undefined>;

/** The filters one component builder made: its steps, or the observer. */
export interface ComponentParts {
  steps: Partial<Record<StepName, FilterInstance>>;
  observer?: FilterInstance;
}

interface BuiltComponent extends ComponentParts {
  key: string;
  /** Its key in the {@linkcode ComponentPool} when shared with other domains. */
  pooled?: string;
}

/**
 * Components whose filters hold nothing that belongs to one domain, so every domain on an
 * identical configuration of the component can run the same instances: compiled regexes and
 * lists, caches of facts about a User-Agent or an address (ua_parser, probe_detector, the
 * crawler DNS verdicts of trusted_sources), observers that key their counters by domain
 * (statstore) or write one file (telemetry), and the lua engine.
 *
 * **lua**: domains with the same lua configuration (scripts, budget, memory limit) run in one
 * Lua state, so a script's globals are shared between them; a script that keeps state across
 * requests must key it by `req.domain_id`. The budget strikes that switch a function off for a
 * minute are then counted over those domains together. This is what keeps a new domain at a
 * few KB: a Lua state costs ~200 KB of wasm memory, which wasm never gives back.
 *
 * The others (many_uas, limit_req_mc, request_hash_score, response_status) keep per-IP state,
 * and one domain's attackers must not count against another's: each domain builds its own.
 */
export const SHARED_COMPONENTS: ReadonlySet<ComponentName> = new Set<ComponentName>([
  "ua_parser",
  "location_flags",
  "fixed_lists",
  "lua",
  "trusted_sources",
  "geo_zones",
  "probe_detector",
  "statstore_http_stats",
  "telemetry_http_sampler",
]);

interface PoolEntry {
  parts: Promise<ComponentParts>;
  built: ComponentParts | undefined;
  users: number;
}

/**
 * The filters of {@linkcode SHARED_COMPONENTS} of one thread, one instance per component and
 * configuration, counted by the chains that use them and closed when the last one lets go.
 * Sweeps reach each shared instance once, not once per domain.
 */
export class ComponentPool {
  readonly #entries = new Map<string, PoolEntry>();

  /** Instances in the pool (component configurations in use). */
  get size(): number {
    return this.#entries.size;
  }

  /** The parts built for `key`, building them with `build` on first use; counts one user. */
  acquire(key: string, build: () => Promise<ComponentParts>): Promise<ComponentParts> {
    let entry = this.#entries.get(key);
    if (!entry) {
      const made: PoolEntry = { parts: build(), built: undefined, users: 0 };
      made.parts.then((parts) => void (made.built = parts), () => {
        // A failed build is not kept: the next domain tries again (and reports its error).
        if (this.#entries.get(key) === made) this.#entries.delete(key);
      });
      this.#entries.set(key, made);
      entry = made;
    }
    entry.users++;
    return entry.parts;
  }

  /** One user lets go of `key`; the last one closes its filters. */
  async release(key: string): Promise<void> {
    const entry = this.#entries.get(key);
    if (!entry || --entry.users > 0) return;
    this.#entries.delete(key);
    const parts = await entry.parts.catch(() => undefined);
    if (parts) { for (const filter of instancesOf(parts)) await filter.close?.(); }
  }

  /** Lets every shared filter drop idle state (once each). */
  sweep(now: number): void {
    for (const entry of this.#entries.values()) {
      if (!entry.built) continue;
      for (const filter of instancesOf(entry.built)) filter.sweep?.(now);
    }
  }
}

/** Options of {@linkcode DomainChain}. */
export interface DomainChainOptions {
  /** Shares the filters of {@linkcode SHARED_COMPONENTS} with other chains of this thread. */
  pool?: ComponentPool;
}

function instancesOf(built: ComponentParts): FilterInstance[] {
  const out: FilterInstance[] = [];
  for (const step of Object.values(built.steps)) {
    // Two steps of one component may be one object; it is closed and swept once.
    if (step !== undefined && !out.includes(step)) out.push(step);
  }
  if (built.observer) out.push(built.observer);
  return out;
}

interface ActiveStep {
  name: StepName;
  skipIf: readonly string[];
  filter: FilterInstance;
}

/** Filter components in chain order; each owns one or two steps. */
const STEP_COMPONENT: Record<StepName, ComponentName> = {
  ua_parser: "ua_parser",
  location_flags: "location_flags",
  "fixed_lists:early": "fixed_lists",
  "lua:allow": "lua",
  "fixed_lists:late": "fixed_lists",
  "lua:deny": "lua",
  many_uas: "many_uas",
  limit_req_mc: "limit_req_mc",
  request_hash_score: "request_hash_score",
  trusted_sources: "trusted_sources",
  geo_zones: "geo_zones",
  probe_detector: "probe_detector",
  response_status: "response_status",
};

/**
 * The filter chain of one domain. Rebuilding after a configuration change keeps the instances
 * (and so the rate and score state) of every component whose configuration did not change.
 */
export class DomainChain {
  readonly domainId: number;
  #builders: Partial<Record<ComponentName, ComponentBuilder>>;
  #observers: Partial<Record<ComponentName, ObserverBuilder>>;
  #built = new Map<ComponentName, BuiltComponent>();
  #steps: ActiveStep[] = [];
  #observing: FilterInstance[] = [];
  readonly #pool: ComponentPool | undefined;

  constructor(
    domainId: number,
    builders: Partial<Record<ComponentName, ComponentBuilder>>,
    observers: Partial<Record<ComponentName, ObserverBuilder>> = {},
    options: DomainChainOptions = {},
  ) {
    this.domainId = domainId;
    this.#builders = builders;
    this.#observers = observers;
    this.#pool = options.pool;
  }

  /** The pool key of a component when it is shared, else undefined. */
  #poolKey(name: ComponentName, key: string): string | undefined {
    return this.#pool && SHARED_COMPONENTS.has(name) ? `${name}\u0000${key}` : undefined;
  }

  /** Builds a component's parts, or takes them from the pool. */
  #build(
    pooled: string | undefined,
    build: () => Promise<ComponentParts>,
  ): Promise<ComponentParts> {
    return pooled === undefined ? build() : this.#pool!.acquire(pooled, build);
  }

  /** Closes a component this chain no longer uses (a shared one: lets go of it). */
  async #drop(built: BuiltComponent): Promise<void> {
    if (built.pooled !== undefined) await this.#pool!.release(built.pooled);
    else for (const filter of instancesOf(built)) await filter.close?.();
  }

  /**
   * Applies a configuration. Throws (leaving the previous chain in force) when a component
   * cannot be built, naming the component.
   */
  async configure(
    config: DomainConfig,
    keyOf: (name: ComponentName) => string,
    options: { lenient?: boolean } = {},
  ): Promise<string[]> {
    const next = new Map<ComponentName, BuiltComponent>();
    const created: BuiltComponent[] = [];
    const skipped: string[] = [];
    try {
      for (
        const [name, builder] of Object.entries(this.#builders) as [
          ComponentName,
          ComponentBuilder,
        ][]
      ) {
        const component = config[name] as { enabled?: boolean };
        if (component.enabled === false) continue;
        const key = keyOf(name);
        const previous = this.#built.get(name);
        if (previous && previous.key === key) {
          next.set(name, previous);
          continue;
        }
        const pooled = this.#poolKey(name, key);
        let steps;
        try {
          ({ steps } = await this.#build(
            pooled,
            async () => ({ steps: await builder(config, this.domainId) }),
          ));
        } catch (error) {
          const failure = new TypeError(
            `Cannot load component "${name}" for domain ${this.domainId}: ${
              (error as Error).message
            }`,
            { cause: error },
          );
          // A domain with no chain yet runs without the broken component rather than not at
          // all (there is no last good configuration to keep); the caller reports it.
          if (!options.lenient) throw failure;
          skipped.push(failure.message);
          continue;
        }
        const built: BuiltComponent = { key, steps, ...(pooled ? { pooled } : {}) };
        created.push(built);
        next.set(name, built);
      }
      const observing: FilterInstance[] = [];
      for (
        const [name, builder] of Object.entries(this.#observers) as [
          ComponentName,
          ObserverBuilder,
        ][]
      ) {
        const component = config[name] as { enabled?: boolean };
        if (component.enabled === false) continue;
        const key = `observer:${keyOf(name)}`;
        const previous = this.#built.get(name);
        if (previous && previous.key === key) {
          next.set(name, previous);
          if (previous.observer) observing.push(previous.observer);
          continue;
        }
        const pooled = this.#poolKey(name, key);
        const parts = await this.#build(pooled, async () => {
          const observer = await builder(config, this.domainId);
          return observer ? { steps: {}, observer } : { steps: {} };
        });
        const built: BuiltComponent = { key, ...parts, ...(pooled ? { pooled } : {}) };
        created.push(built);
        if (!parts.observer) continue;
        next.set(name, built);
        observing.push(parts.observer);
      }
      this.#observing = observing;
    } catch (error) {
      for (const built of created) await this.#drop(built);
      throw error;
    }
    for (const built of created) {
      // An observer builder that made nothing: nothing to keep, but a pool user to let go.
      if (built.pooled !== undefined && !built.observer && Object.keys(built.steps).length === 0) {
        await this.#drop(built);
      }
    }
    for (const [name, old] of this.#built) {
      if (next.get(name) !== old) await this.#drop(old);
    }
    this.#built = next;
    this.#steps = [];
    for (const step of CHAIN_ORDER) {
      const component = STEP_COMPONENT[step];
      const built = next.get(component);
      const filter = built?.steps[step];
      if (!filter || !this.#builders[component]) continue;
      const skipIf = (config[component] as { skip_if?: string[] }).skip_if ?? [];
      this.#steps.push({ name: step, skipIf, filter });
    }
    return skipped;
  }

  /** Runs the chain on a record; flags and events accumulate on `ctx`. */
  run(record: HttpRecord, ctx: RequestContext): void | Promise<void> {
    return this.#runFrom(0, record, ctx);
  }

  /**
   * Runs the chain on a batch of records (in order), deciding exactly as `run` on each in turn
   * would: the steps up to the last one that takes batches (lua's allow step) run step by step
   * over the batch, so Lua is entered once per batch, not once per record; the rest run record
   * by record. Each filter still sees the records in order with the flags earlier steps set on
   * each, so its decisions do not change. Returns, per record, nothing or a promise for a record
   * whose chain waits (memcached); a record that waits before the batched steps leaves the batch
   * and goes on alone when its wait ends, as it would with `run`.
   */
  runBatch(
    records: readonly HttpRecord[],
    ctxs: readonly RequestContext[],
  ): (void | Promise<void>)[] {
    const n = Math.min(records.length, ctxs.length);
    const results: (void | Promise<void>)[] = new Array(n);
    const steps = this.#steps;
    let last = -1;
    for (let s = 0; s < steps.length; s++) if (steps[s]!.filter.runBatch) last = s;
    if (last < 0 || n === 1) {
      for (let i = 0; i < n; i++) results[i] = this.#runFrom(0, records[i]!, ctxs[i]!);
      return results;
    }
    // Records still in the batch (not waiting on an earlier step).
    const active = new Uint8Array(n).fill(1);
    const batchRecords: HttpRecord[] = [];
    const batchCtxs: RequestContext[] = [];
    for (let s = 0; s <= last; s++) {
      const step = steps[s]!;
      const skip = step.skipIf.length > 0 ? step.skipIf : undefined;
      const runBatch = step.filter.runBatch;
      if (runBatch !== undefined) {
        batchRecords.length = 0;
        batchCtxs.length = 0;
        for (let i = 0; i < n; i++) {
          if (active[i] === 0 || (skip && hasAnyFlag(ctxs[i]!.flags, skip))) continue;
          batchRecords.push(records[i]!);
          batchCtxs.push(ctxs[i]!);
        }
        if (batchRecords.length > 0) runBatch(batchRecords, batchCtxs);
        continue;
      }
      for (let i = 0; i < n; i++) {
        if (active[i] === 0) continue;
        const ctx = ctxs[i]!;
        if (skip && hasAnyFlag(ctx.flags, skip)) continue;
        const pending = step.filter.run(records[i]!, ctx);
        if (pending) {
          active[i] = 0;
          results[i] = this.#finishAsync(pending, s + 1, records[i]!, ctx);
        }
      }
    }
    for (let i = 0; i < n; i++) {
      if (active[i] === 1) results[i] = this.#runFrom(last + 1, records[i]!, ctxs[i]!);
    }
    return results;
  }

  #runFrom(from: number, record: HttpRecord, ctx: RequestContext): void | Promise<void> {
    const steps = this.#steps;
    for (let i = from; i < steps.length; i++) {
      const step = steps[i]!;
      if (step.skipIf.length > 0 && hasAnyFlag(ctx.flags, step.skipIf)) continue;
      const pending = step.filter.run(record, ctx);
      if (pending) return this.#finishAsync(pending, i + 1, record, ctx);
    }
    this.#observe(record, ctx);
  }

  async #finishAsync(
    pending: Promise<void>,
    from: number,
    record: HttpRecord,
    ctx: RequestContext,
  ): Promise<void> {
    await pending;
    const steps = this.#steps;
    for (let i = from; i < steps.length; i++) {
      const step = steps[i]!;
      if (step.skipIf.length > 0 && hasAnyFlag(ctx.flags, step.skipIf)) continue;
      await step.filter.run(record, ctx);
    }
    this.#observe(record, ctx);
  }

  #observe(record: HttpRecord, ctx: RequestContext): void {
    for (const observer of this.#observing) observer.run(record, ctx);
  }

  /** The step names in force, in order (for tests and /stats). */
  steps(): StepName[] {
    return this.#steps.map((s) => s.name);
  }

  /** Observers in force (statstore, telemetry). */
  observers(): FilterInstance[] {
    return [...this.#observing];
  }

  /**
   * The counters of every filter in force, as `<filter>.<counter>` (numeric fields only), added
   * into `into`; for /metrics, so no fallback or failure inside a filter goes unseen.
   */
  addCounters(into: Record<string, number>, counted?: Set<FilterInstance>): void {
    for (const built of this.#built.values()) {
      for (const filter of instancesOf(built)) {
        // A filter shared by several domains is counted once, under the first of them.
        if (counted) {
          if (counted.has(filter)) continue;
          counted.add(filter);
        }
        const counters = filter.counters?.() as Record<string, unknown> | undefined;
        if (counters === undefined) continue;
        for (const [key, value] of Object.entries(counters)) {
          if (typeof value !== "number") continue;
          const name = `${filter.name}.${key}`;
          into[name] = (into[name] ?? 0) + value;
        }
      }
    }
  }

  /** Lets filters drop idle per-IP state (shared ones are swept by their pool). */
  sweep(now: number): void {
    for (const built of this.#built.values()) {
      if (built.pooled !== undefined) continue;
      for (const filter of instancesOf(built)) filter.sweep?.(now);
    }
  }

  /**
   * The per-key state this domain's own filters hold (filters that report it: many_uas,
   * request_hash_score, limit_req_mc…), in total and by filter, and how many of its components
   * are shared.
   */
  state(): {
    keys: number;
    bytes: number;
    shared: number;
    own: number;
    filters: { name: string; keys: number; bytes: number }[];
  } {
    const out = {
      keys: 0,
      bytes: 0,
      shared: 0,
      own: 0,
      filters: [] as { name: string; keys: number; bytes: number }[],
    };
    for (const built of this.#built.values()) {
      if (built.pooled !== undefined) {
        out.shared++;
        continue;
      }
      out.own++;
      for (const filter of instancesOf(built)) {
        // statstore's `stats` is its counters object, not a state size.
        const method = (filter as { stats?: unknown }).stats;
        if (typeof method !== "function") continue;
        const stats = (method as () => { keys: number; bytes: number }).call(filter);
        out.keys += stats.keys;
        out.bytes += stats.bytes;
        out.filters.push({ name: filter.name, keys: stats.keys, bytes: stats.bytes });
      }
    }
    return out;
  }

  /** Closes every filter (lets go of the shared ones). */
  async close(): Promise<void> {
    for (const built of this.#built.values()) await this.#drop(built);
    this.#built.clear();
    this.#steps = [];
    this.#observing = [];
  }
}

/**
 * The key deciding whether a component's filters survive a reload: its own configuration (for
 * fixed_lists also the global lists it may name; for lua also the version of each script in
 * `scriptsDir`, components_config_dir, so an edited script is loaded though no configuration
 * text changed). Unchanged key → same instance, same state.
 */
export function componentKey(config: DomainConfig, global: DomainConfig, scriptsDir = "") {
  return (name: keyof DomainConfig): string => {
    const own = jsonOf(config[name]);
    if (name === "fixed_lists") return `[${own},${jsonOf(global.fixed_lists)}]`;
    if (name === "lua" && scriptsDir !== "" && config.lua.scripts.length > 0) {
      const versions = config.lua.scripts.map(({ file }) => scriptVersion(join(scriptsDir, file)));
      return `[${own},${JSON.stringify(versions)}]`;
    }
    return own;
  };
}

/** A script file's mtime, ctime, size and inode, read without opening it (never a FIFO). */
function scriptVersion(path: string): string {
  try {
    const info = Deno.statSync(path);
    if (!info.isFile) return "not a file";
    return `${info.mtime?.getTime()}:${info.ctime?.getTime()}:${info.size}:${info.ino ?? ""}`;
  } catch {
    return "none"; // missing or unreadable: the embedded script, if any
  }
}

// Configuration objects are not mutated once loaded, and domains without a configuration of
// their own share the global ones: one key string each, not one per domain.
const keys = new WeakMap<object, string>();

function jsonOf(component: object): string {
  let key = keys.get(component);
  if (key === undefined) {
    key = JSON.stringify(component);
    keys.set(component, key);
  }
  return key;
}
