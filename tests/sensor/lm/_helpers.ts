import type { LmConfig, ProjectionConfig } from "../../../src/shared/config/components.ts";
import {
  type BanCommand,
  ListManager,
  type ListManagerOptions,
} from "../../../src/sensor/lm/mod.ts";

/** Start of test time: the seed example's timestamp. */
export const T0 = 1669808971274;

/** A clock tests move by hand. */
export class ManualClock {
  t: number;
  constructor(t = T0) {
    this.t = t;
  }
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A projection with the schema's defaults, overridden by `over`. */
export function projection(over: Partial<ProjectionConfig> & { name: string }): ProjectionConfig {
  return {
    events: "^loc_rate_",
    rule_name: "tsng.location_rate",
    state: "enabled",
    timeout: 3600,
    nursery: { events: 0, ips: 0 },
    activation: { events: 0, ips: 0 },
    watch_ttl: 600,
    cooldown: 0,
    skip_if: [],
    ...over,
  };
}

/** An lm config holding `projections`. */
export function lm(projections: ProjectionConfig[], useGlobal = true): LmConfig {
  return { lists: [], projections, use_component_projections: useGlobal };
}

/** A list manager on a manual clock that records what it emits. */
export function setup(over: Partial<ListManagerOptions> = {}): {
  lm: ListManager;
  clock: ManualClock;
  sent: BanCommand[];
} {
  const clock = new ManualClock();
  const sent: BanCommand[] = [];
  const manager = new ListManager({
    emit: (cmd) => sent.push(cmd),
    hostname: "sensor-1",
    geo: (ip) => ip.startsWith("1.") ? "US" : "",
    clock,
    ...over,
  });
  return { lm: manager, clock, sent };
}

/** `method ip comment` of each command, for compact assertions. */
export function brief(sent: readonly BanCommand[]): string[] {
  return sent.map((c) => `${c.method} ${c.ip_addr} ${c.comment}`);
}

/** The empty flag map. */
export const NO_FLAGS: ReadonlyMap<string, boolean> = new Map();
