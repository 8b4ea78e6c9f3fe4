import { COMPONENT_SCHEMAS } from "../../../src/shared/config/components.ts";
import type { LmConfig, ProjectionConfig } from "../../../src/shared/config/components.ts";
import { validate } from "../../../src/shared/config/schema.ts";
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
  // Filled by the schema itself, so a new projection field gets its default here too.
  return validate(COMPONENT_SCHEMAS.lm.fields.projections.items, {
    events: "^loc_rate_",
    state: "enabled",
    skip_if: [],
    ...over,
  }, "projection") as ProjectionConfig;
}

/** An lm config holding `projections`. */
export function lm(projections: ProjectionConfig[], useGlobal = true): LmConfig {
  return { lists: [], projections, use_component_projections: useGlobal };
}

/** The lm configuration of one auto projection "rate" over `^loc_rate_`, with `over` on top. */
export function autoRate(over: Partial<ProjectionConfig> = {}): LmConfig {
  return lm([projection({ name: "rate", state: "auto", ...over })]);
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
