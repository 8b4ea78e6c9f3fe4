import type { LmConfig, ProjectionConfig } from "../../shared/config/components.ts";
import { compileRegex } from "../../shared/config/regex.ts";

/**
 * A domain's projections: its own, plus (with `use_component_projections`) the global ones it
 * does not override by name. Throws on a duplicate name or an events regex RE2 rejects.
 */
export function mergeProjections(
  domainId: number,
  lm: LmConfig,
  globalLm: LmConfig | undefined,
): ProjectionConfig[] {
  const out: ProjectionConfig[] = [];
  const names = new Set<string>();
  for (const p of lm.projections) {
    if (names.has(p.name)) {
      throw new TypeError(
        `Cannot configure lm for domain ${domainId}: projection "${p.name}" is defined twice`,
      );
    }
    names.add(p.name);
    out.push(p);
  }
  if (lm.use_component_projections && globalLm) {
    for (const p of globalLm.projections) {
      if (names.has(p.name)) continue;
      names.add(p.name);
      out.push(p);
    }
  }
  for (const p of out) {
    try {
      compileRegex(p.events);
    } catch (error) {
      throw new SyntaxError(
        `Cannot configure lm for domain ${domainId}: projection "${p.name}" events: ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
  }
  return out;
}

/** The domain's lists, plus the global ones it does not redefine, by name → max_entries. */
export function listCaps(lm: LmConfig, globalLm: LmConfig | undefined): Map<string, number> {
  const caps = new Map<string, number>();
  for (const list of lm.lists) caps.set(list.name, list.max_entries);
  if (lm.use_component_projections && globalLm) {
    for (const list of globalLm.lists) {
      if (!caps.has(list.name)) caps.set(list.name, list.max_entries);
    }
  }
  return caps;
}
