import type { ComponentName } from "../config/components.ts";
import type { ConfigStore } from "../config/config_store.ts";
import type { Logger } from "../log/logger.ts";
import type { ComponentBuilder, ObserverBuilder } from "./chain.ts";
import { fixedLists } from "./fixed_lists.ts";
import { locationFlags } from "./location_flags.ts";
import { manyUas } from "./many_uas.ts";
import { requestHashScore } from "./request_hash_score.ts";
import type { FilterDeps } from "./types.ts";

/** What the built-in filters need from the running sensor. */
export interface BuilderDeps {
  store: ConfigStore;
  log: Logger;
}

/** The factories of every chain component, wired to the sensor's services. */
export function chainBuilders(
  deps: BuilderDeps,
): Partial<Record<ComponentName, ComponentBuilder>> {
  const filterDeps: FilterDeps = {
    log: (level, msg, fields) => deps.log.limited(`filter:${msg}`, level, msg, fields),
  };
  return {
    location_flags: (config) =>
      Promise.resolve({ location_flags: locationFlags(config.location_flags) }),
    fixed_lists: async (config) => {
      const { early, late } = await fixedLists(config.fixed_lists, {
        ...filterDeps,
        listDir: deps.store.settings.components_config_dir,
        global: deps.store.global.fixed_lists,
      });
      return { "fixed_lists:early": early, "fixed_lists:late": late };
    },
    many_uas: (config) => Promise.resolve({ many_uas: manyUas(config.many_uas, filterDeps) }),
    request_hash_score: (config) =>
      Promise.resolve({
        request_hash_score: requestHashScore(config.request_hash_score, filterDeps),
      }),
  };
}

/** Observers that run after the chain (stats, telemetry). */
export function chainObservers(
  _deps: BuilderDeps,
): Partial<Record<ComponentName, ObserverBuilder>> {
  return {};
}
