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
import { geoZones } from "../filters/geo_zones.ts";
import { probeDetector } from "../filters/probe_detector.ts";
import { responseStatus } from "../filters/response_status.ts";
import { trustedSources } from "../filters/trusted_sources.ts";
import { dnsResolver } from "./dns_resolver.ts";
import { type GeoIp, noGeoIp, openGeoIp } from "../../shared/geo/geoip.ts";
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
  /**
   * No lookups leave the process (replay): claimed crawlers stay unverified, so a replay decides
   * the same on every machine whatever its resolver answers.
   */
  offline?: boolean;
  /** Publishes one sampled record (telemetry PUB); absent = telemetry file only. */
  publishTelemetry?(json: string): void;
}

/** The factories of every chain component. */
export function chainBuilders(env: FilterEnv): Partial<Record<ComponentName, ComponentBuilder>> {
  let geo: Promise<GeoIp> | undefined;
  const deps: FilterDeps = {
    log: (level, msg, fields) => env.log.limited(`filter:${msg}`, level, msg, fields),
    // The pipeline opens the sockets; filters only see the store's interface.
    sharedStore: memcachedStore((level, msg, fields) =>
      env.log.limited(`memcached:${msg}:${fields.server}`, level, msg, fields)
    ),
    ...(env.offline ? {} : { resolveDns: dnsResolver() }),
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
    trusted_sources: async (config) => ({
      trusted_sources: await trustedSources(config.trusted_sources, deps),
    }),
    geo_zones: async (config) => {
      // The database is opened once per thread, by the first domain that uses geo zones.
      geo ??= env.settings.geoip_db === ""
        ? Promise.resolve(noGeoIp())
        : openGeoIp(env.settings.geoip_db).catch((error) => {
          env.log.limited("geo_zones:db", "warn", "geo_zones: no GeoIP database", {
            path: env.settings.geoip_db,
            error: String(error),
          });
          return noGeoIp();
        });
      const db = await geo;
      return {
        geo_zones: geoZones(config.geo_zones, { ...deps, country: (ip) => db.country(ip) }),
      };
    },
    probe_detector: async (config) => ({
      probe_detector: await probeDetector(config.probe_detector, deps),
    }),
    response_status: (config) =>
      Promise.resolve({ response_status: responseStatus(config.response_status, deps) }),
  };
}
