import type { ComponentName } from "../../shared/config/components.ts";
import type { ObserverBuilder } from "../filters/domain_chain.ts";
import { statstoreHttpStats } from "../filters/statstore_http_stats.ts";
import { telemetryHttpSampler } from "../filters/telemetry_http_sampler.ts";
import type { FilterEnv } from "./chain_builders.ts";
import { join } from "node:path";

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
        await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
        file = join(dir, sampler.file);
      }
      return telemetryHttpSampler({ ...sampler, file }, {
        log: (level, msg, fields) => env.log.limited(`telemetry:${msg}`, level, msg, fields),
        ...(env.publishTelemetry ? { publish: env.publishTelemetry } : {}),
      });
    },
  };
}
