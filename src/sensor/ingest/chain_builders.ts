import type { ComponentName, DomainConfig } from "../../shared/config/components.ts";
import type { Settings } from "../../shared/config/settings.ts";
import type { Logger } from "../../shared/log/logger.ts";
import type { ComponentBuilder } from "../filters/domain_chain.ts";
import { fixedLists } from "../filters/fixed_lists.ts";
import { limitReqMc } from "../filters/limit_req_mc.ts";
import { locationFlags } from "../filters/location_flags.ts";
import { lua } from "../filters/lua.ts";
import { manyUas } from "../filters/many_uas.ts";
import { requestHashScore } from "../filters/request_hash_score.ts";
import type { HttpStats } from "../filters/statstore_http_stats.ts";
import type { FilterDeps } from "../filters/types.ts";
import { uaParser } from "../filters/ua_parser.ts";
import { join } from "node:path";
import { memcachedStore } from "../memcached/memcached_store.ts";

/**
 * What the built-in filters need from their surroundings. Plain data and functions, so a
 * worker can hold a mirror of it (settings and global components arrive by message).
 */
export interface FilterEnv {
  settings: Settings;
  /** The global component configuration in force. */
  global(): DomainConfig;
  log: Logger;
  /** Counters shared by every domain's statstore observer in this thread. */
  stats: HttpStats;
  /** Publishes one sampled record (telemetry PUB); absent = telemetry file only. */
  publishTelemetry?(json: string): void;
}

/** The factories of every chain component. */
export function chainBuilders(env: FilterEnv): Partial<Record<ComponentName, ComponentBuilder>> {
  const deps: FilterDeps = {
    log: (level, msg, fields) => env.log.limited(`filter:${msg}`, level, msg, fields),
    // The pipeline opens the sockets; filters only see the store's interface.
    sharedStore: memcachedStore((level, msg, fields) =>
      env.log.limited(`memcached:${msg}:${fields.server}`, level, msg, fields)
    ),
    readFile: async (name: string) => {
      const dir = env.settings.components_config_dir;
      if (dir === "") throw new Deno.errors.NotFound(name);
      return await Deno.readTextFile(join(dir, name));
    },
  };
  return {
    ua_parser: (config) => Promise.resolve({ ua_parser: uaParser(config.ua_parser, deps) }),
    location_flags: (config) =>
      Promise.resolve({ location_flags: locationFlags(config.location_flags) }),
    fixed_lists: async (config) => {
      const { early, late } = await fixedLists(config.fixed_lists, {
        ...deps,
        listDir: env.settings.components_config_dir,
        global: env.global().fixed_lists,
      });
      return { "fixed_lists:early": early, "fixed_lists:late": late };
    },
    lua: async (config) => {
      const built = await lua(config.lua, deps);
      return { "lua:allow": built.allow, "lua:deny": built.deny };
    },
    many_uas: (config) => Promise.resolve({ many_uas: manyUas(config.many_uas, deps) }),
    limit_req_mc: (config) =>
      Promise.resolve({ limit_req_mc: limitReqMc(config.limit_req_mc, deps) }),
    request_hash_score: (config) =>
      Promise.resolve({ request_hash_score: requestHashScore(config.request_hash_score, deps) }),
  };
}
