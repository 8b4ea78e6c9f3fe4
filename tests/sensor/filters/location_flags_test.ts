import assert from "node:assert/strict";
import {
  COMPONENT_SCHEMAS,
  type LocationFlagsConfig,
} from "../../../src/shared/config/components.ts";
import {
  EMBEDDED_DEFAULT_CONF,
  parseDefaultConf,
} from "../../../src/shared/config/load_components.ts";
import { validate } from "../../../src/shared/config/schema.ts";
import { locationFlags } from "../../../src/sensor/filters/location_flags.ts";
import type { RequestContext } from "../../../src/sensor/filters/types.ts";
import { emptyRecord, type HttpRecord } from "../../../src/sensor/wire/mod.ts";

function run(config: LocationFlagsConfig, over: Partial<HttpRecord>): Map<string, boolean> {
  const ctx: RequestContext = {
    domainId: 1,
    ip: "192.0.2.1",
    now: 0,
    phase: "first",
    flags: new Map(),
    events: [],
  };
  locationFlags(config).run({ ...emptyRecord(), method: "GET", ...over }, ctx);
  return ctx.flags;
}

function config(locations: unknown[]): LocationFlagsConfig {
  return validate(
    COMPONENT_SCHEMAS.location_flags,
    { locations },
    "location_flags",
  ) as LocationFlagsConfig;
}

Deno.test("locationFlags() default config flags static files, ignoring the query string", () => {
  const defaults = parseDefaultConf(EMBEDDED_DEFAULT_CONF, "default.conf").location_flags;
  assert.equal(run(defaults, { url: "/a/style.css" }).get("static"), true);
  assert.equal(run(defaults, { url: "/a/style.css?v=3" }).get("static"), true);
  assert.equal(run(defaults, { url: "/login" }).get("static"), false);
  assert.equal(run(defaults, { url: "/search?q=x.css" }).get("static"), false);
});

Deno.test("locationFlags() matches host, method and path together, in order", () => {
  const c = config([
    { host: "^api\\.", method: "POST", path: "^/v1/", flags: [{ flag: "api_write" }] },
    { path: "^/v1/", flags: [{ flag: "api" }, { flag: "web", value: false }] },
  ]);
  assert.deepEqual([...run(c, { host: "api.example.com", method: "POST", url: "/v1/x" })], [
    ["api_write", true],
    ["api", true],
    ["web", false],
  ]);
  assert.deepEqual([...run(c, { host: "api.example.com", method: "GET", url: "/v1/x" })], [
    ["api", true],
    ["web", false],
  ]);
  assert.deepEqual([...run(c, { host: "www.example.com", url: "/v2" })], []);
});

Deno.test("locationFlags() stops scanning after a matching location with stop", () => {
  const c = config([
    { path: "^/health$", flags: [{ flag: "health" }], stop: true },
    { path: "", flags: [{ flag: "any" }] },
  ]);
  assert.deepEqual([...run(c, { url: "/health" })], [["health", true]]);
  assert.deepEqual([...run(c, { url: "/other" })], [["any", true]]);
});

Deno.test("locationFlags() lets a later location override an earlier flag value", () => {
  const c = config([
    { flags: [{ flag: "static", value: false }] },
    { path: "\\.png$", flags: [{ flag: "static", value: true }] },
  ]);
  assert.equal(run(c, { url: "/x.png" }).get("static"), true);
  assert.equal(run(c, { url: "/x.html" }).get("static"), false);
});
