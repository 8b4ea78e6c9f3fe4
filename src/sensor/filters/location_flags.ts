import type { LocationFlagsConfig } from "../../shared/config/components.ts";
import { compileRegex, type Matcher } from "../../shared/config/regex.ts";
import type { HttpRecord } from "../wire/record.ts";
import type { FilterInstance, RequestContext } from "./types.ts";

interface CompiledLocation {
  host: Matcher | undefined;
  method: string;
  path: Matcher | undefined;
  flags: readonly { flag: string; value: boolean }[];
  stop: boolean;
}

/**
 * location_flags: in order, every location whose host and path regexes and method match sets its
 * flags; `stop` ends the scan. Empty host, method or path match anything; the path is the URL
 * without its query string, as nginx locations see it. Runs on both phases (the response half
 * needs `static` too) and emits no events.
 */
export function locationFlags(config: LocationFlagsConfig): FilterInstance {
  const locations: CompiledLocation[] = config.locations.map((l) => ({
    host: l.host === "" ? undefined : compileRegex(l.host),
    method: l.method,
    path: l.path === "" ? undefined : compileRegex(l.path),
    flags: l.flags,
    stop: l.stop,
  }));
  return {
    name: "location_flags",
    run: function locationFlags(record: HttpRecord, ctx: RequestContext): void {
      // Like an nginx location, the path is matched without the query string.
      const url = record.url;
      const q = url.indexOf("?");
      const path = q < 0 ? url : url.slice(0, q);
      for (const location of locations) {
        if (location.method !== "" && location.method !== record.method) continue;
        if (location.host && !location.host.test(record.host)) continue;
        if (location.path && !location.path.test(path)) continue;
        for (const { flag, value } of location.flags) ctx.flags.set(flag, value);
        if (location.stop) break;
      }
    },
  };
}
