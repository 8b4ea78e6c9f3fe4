import type { ComponentName, DomainConfig } from "../../shared/config/components.ts";
import type { Settings } from "../../shared/config/settings.ts";
import type { Logger } from "../../shared/log/logger.ts";
import type { ComponentBuilder, ObserverBuilder } from "./chain.ts";
import { fixedLists } from "./fixed_lists.ts";
import { limitReqMc } from "./limit_req_mc.ts";
import { locationFlags } from "./location_flags.ts";
import { lua } from "./lua.ts";
import { manyUas } from "./many_uas.ts";
import { requestHashScore } from "./request_hash_score.ts";
import { type HttpStats, statstoreHttpStats } from "./statstore_http_stats.ts";
import { telemetryHttpSampler } from "./telemetry_http_sampler.ts";
import type { FilterDeps } from "./types.ts";
import { uaParser } from "./ua_parser.ts";
import { join } from "node:path";

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

/** Observers that run after the chain on every record (stats, telemetry). */
export function chainObservers(env: FilterEnv): Partial<Record<ComponentName, ObserverBuilder>> {
  return {
    statstore_http_stats: (config) =>
      Promise.resolve(statstoreHttpStats(config.statstore_http_stats, { stats: env.stats })),
    telemetry_http_sampler: async (config) => {
      const sampler = config.telemetry_http_sampler;
      let file = "";
      if (sampler.file !== "") {
        const dir = join(env.settings.state_dir || ".", "telemetry");
        await Deno.mkdir(dir, { recursive: true });
        file = join(dir, sampler.file);
      }
      return telemetryHttpSampler({ ...sampler, file }, {
        log: (level, msg, fields) => env.log.limited(`telemetry:${msg}`, level, msg, fields),
        ...(env.publishTelemetry ? { publish: env.publishTelemetry } : {}),
      });
    },
  };
}
