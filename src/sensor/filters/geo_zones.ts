import type { GeoZonesConfig } from "../../shared/config/components.ts";
import type { HttpRecord } from "../wire/record.ts";
import type { FilterDeps, FilterInstance, RequestContext } from "./types.ts";

// Not countries: unknown, user-assigned, and MaxMind's legacy EU/AP/A1/A2/O1 codes.
const NOT_COUNTRIES = new Set(["XX", "ZZ", "EU", "AP", "A1", "A2", "O1"]);

/** An ISO country code, upper case, or "" when the text is none. */
function country(text: string): string {
  const cc = text.toUpperCase();
  return /^[A-Z]{2}$/.test(cc) && !NOT_COUNTRIES.has(cc) ? cc : "";
}

/**
 * geo_zones (seed §2.1.1, "filtering by geo-zones"): per domain, `allow` lists the only
 * countries that may visit, `deny` the ones that may not. A request from outside the zone
 * emits `geo_zone_<CC>`, which the `geo` projection turns into a ban. The country is the
 * proxy's `geo` field when it sent one, else the sensor's GeoIP database; a client whose
 * country is unknown (private space, no database, no match) is never an event.
 */
export function geoZones(config: GeoZonesConfig, deps: FilterDeps = {}): FilterInstance {
  const allow = new Set(config.allow);
  const deny = new Set(config.deny);
  const lookup = deps.country;
  return {
    name: "geo_zones",
    run: function geoZones(record: HttpRecord, ctx: RequestContext): void {
      if (ctx.phase !== "first" || (allow.size === 0 && deny.size === 0)) return;
      let cc = country(record.geo);
      if (cc === "") cc = country(lookup?.(ctx.ip) ?? "");
      if (cc === "") return;
      if (deny.has(cc) || (allow.size > 0 && !allow.has(cc))) ctx.events.push(`geo_zone_${cc}`);
    },
  };
}
