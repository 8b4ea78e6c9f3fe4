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

interface BuiltComponent {
  key: string;
  steps: Partial<Record<StepName, FilterInstance>>;
  observer?: FilterInstance;
}

function instancesOf(built: BuiltComponent): FilterInstance[] {
  const out = Object.values(built.steps).filter((s): s is FilterInstance => s !== undefined);
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

  constructor(
    domainId: number,
    builders: Partial<Record<ComponentName, ComponentBuilder>>,
    observers: Partial<Record<ComponentName, ObserverBuilder>> = {},
  ) {
    this.domainId = domainId;
    this.#builders = builders;
    this.#observers = observers;
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
    const created: FilterInstance[] = [];
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
        let steps;
        try {
          steps = await builder(config, this.domainId);
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
        for (const step of Object.values(steps)) if (step) created.push(step);
        next.set(name, { key, steps });
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
        const observer = await builder(config, this.domainId);
        if (!observer) continue;
        created.push(observer);
        next.set(name, { key, steps: {}, observer });
        observing.push(observer);
      }
      this.#observing = observing;
    } catch (error) {
      for (const filter of created) await filter.close?.();
      throw error;
    }
    for (const [name, old] of this.#built) {
      if (next.get(name) !== old) {
        for (const filter of instancesOf(old)) await filter.close?.();
      }
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
    const steps = this.#steps;
    for (let i = 0; i < steps.length; i++) {
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
  addCounters(into: Record<string, number>): void {
    for (const built of this.#built.values()) {
      for (const filter of instancesOf(built)) {
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

  /** Lets filters drop idle per-IP state. */
  sweep(now: number): void {
    for (const built of this.#built.values()) {
      for (const filter of instancesOf(built)) filter.sweep?.(now);
    }
  }

  /** Closes every filter. */
  async close(): Promise<void> {
    for (const built of this.#built.values()) {
      for (const filter of instancesOf(built)) await filter.close?.();
    }
    this.#built.clear();
    this.#steps = [];
    this.#observing = [];
  }
}

/**
 * The key deciding whether a component's filters survive a reload: its own configuration (and
 * for fixed_lists the global lists it may name). Unchanged key → same instance, same state.
 */
export function componentKey(config: DomainConfig, global: DomainConfig) {
  return (name: keyof DomainConfig): string =>
    name === "fixed_lists"
      ? JSON.stringify([config.fixed_lists, global.fixed_lists])
      : JSON.stringify(config[name]);
}
