import assert from "node:assert/strict";
import { geoZones } from "../../../src/sensor/filters/geo_zones.ts";
import type { FilterDeps, FilterInstance } from "../../../src/sensor/filters/types.ts";
import { COMPONENT_SCHEMAS, type GeoZonesConfig } from "../../../src/shared/config/components.ts";
import { validate } from "../../../src/shared/config/schema.ts";
import { ctxFor, rec } from "./_filter_ctx.ts";

function config(fields: Partial<GeoZonesConfig> = {}): GeoZonesConfig {
  return validate(COMPONENT_SCHEMAS.geo_zones, fields, "geo_zones") as GeoZonesConfig;
}

/** A GeoIP stand-in answering from a table ("" for addresses it does not know), logging asks. */
function countries(table: Record<string, string>, asked: string[] = []): FilterDeps {
  return {
    country: (ip: string) => {
      asked.push(ip);
      return table[ip] ?? "";
    },
  };
}

/** The events of one request from `ip` whose record carries `geo`. */
function events(
  f: FilterInstance,
  ip: string,
  geo: string,
  phase: "first" | "response" = "first",
): string[] {
  const record = rec({ ip, geo, url: "/" });
  const ctx = ctxFor(record, 1_700_000_000_000, phase);
  f.run(record, ctx);
  return ctx.events;
}

Deno.test("geoZones() with allow lets only the listed countries in", () => {
  const f = geoZones(config({ allow: ["DE", "AT"] }));
  assert.deepEqual(events(f, "203.0.113.1", "DE"), []);
  assert.deepEqual(events(f, "203.0.113.1", "AT"), []);
  assert.deepEqual(events(f, "203.0.113.1", "US"), ["geo_zone_US"]);
  assert.deepEqual(events(f, "203.0.113.1", "CN"), ["geo_zone_CN"]);
});

Deno.test("geoZones() with deny keeps the listed countries out", () => {
  const f = geoZones(config({ deny: ["KP", "RU"] }));
  assert.deepEqual(events(f, "203.0.113.1", "RU"), ["geo_zone_RU"]);
  assert.deepEqual(events(f, "203.0.113.1", "KP"), ["geo_zone_KP"]);
  assert.deepEqual(events(f, "203.0.113.1", "DE"), []);
  assert.deepEqual(events(f, "203.0.113.1", "US"), []);
});

Deno.test("geoZones() with allow and deny: a denied country is out even when allowed", () => {
  const f = geoZones(config({ allow: ["DE", "FR"], deny: ["FR"] }));
  assert.deepEqual(events(f, "203.0.113.1", "DE"), []);
  assert.deepEqual(events(f, "203.0.113.1", "FR"), ["geo_zone_FR"]);
  assert.deepEqual(events(f, "203.0.113.1", "US"), ["geo_zone_US"]);
});

Deno.test("geoZones() without allow or deny does nothing and asks no database", () => {
  const asked: string[] = [];
  const f = geoZones(config(), countries({ "203.0.113.1": "RU" }, asked));
  assert.deepEqual(events(f, "203.0.113.1", "RU"), []);
  assert.deepEqual(events(f, "203.0.113.1", ""), []);
  assert.deepEqual(asked, []);
});

Deno.test("geoZones() takes the record's geo when valid, else the database's country", () => {
  const asked: string[] = [];
  const f = geoZones(
    config({ allow: ["DE"] }),
    countries({ "203.0.113.7": "US", "198.51.100.7": "DE" }, asked),
  );
  // The proxy's geo wins over the database: no lookup at all.
  assert.deepEqual(events(f, "203.0.113.7", "DE"), []);
  assert.deepEqual(events(f, "198.51.100.7", "CN"), ["geo_zone_CN"]);
  assert.deepEqual(asked, []);
  // No geo from the proxy: the database decides, for the request's client address.
  assert.deepEqual(events(f, "203.0.113.7", ""), ["geo_zone_US"]);
  assert.deepEqual(events(f, "198.51.100.7", ""), []);
  assert.deepEqual(asked, ["203.0.113.7", "198.51.100.7"]);
  // IPv6 clients are looked up by their address text.
  const v6 = geoZones(config({ deny: ["RU"] }), countries({ "2001:db8::1": "RU" }));
  assert.deepEqual(events(v6, "2001:db8::1", ""), ["geo_zone_RU"]);
});

Deno.test("geoZones() reads a lower-case geo as its country code", () => {
  const f = geoZones(config({ allow: ["DE"], deny: [] }), countries({}));
  assert.deepEqual(events(f, "203.0.113.1", "de"), []);
  assert.deepEqual(events(f, "203.0.113.1", "us"), ["geo_zone_US"]);
  assert.deepEqual(events(f, "203.0.113.1", "Us"), ["geo_zone_US"]);
});

Deno.test("geoZones() never makes an event of an unknown country", () => {
  const allowOnly = geoZones(config({ allow: ["DE"] }), countries({}));
  const denyXx = geoZones(config({ deny: ["RU"] }), countries({}));
  // Not a country code ("XX", "ZZ" are the proxies' and DB-IP's "unknown"), and the database
  // does not know the address either: no event, even where only Germany is allowed.
  for (const geo of ["", "XX", "ZZ", "xx", "zz", "A1", "1", "D", "DEU", "--", "??"]) {
    assert.deepEqual(events(allowOnly, "203.0.113.1", geo), [], `geo ${JSON.stringify(geo)}`);
    assert.deepEqual(events(denyXx, "203.0.113.1", geo), [], `geo ${JSON.stringify(geo)}`);
  }
  // Private space is unknown to GeoIP ("" from the database).
  assert.deepEqual(events(allowOnly, "10.1.2.3", ""), []);
  // Without a database at all (no geoip_db), an unknown geo is unknown.
  const noDb = geoZones(config({ allow: ["DE"] }));
  assert.deepEqual(events(noDb, "203.0.113.1", ""), []);
  assert.deepEqual(events(noDb, "203.0.113.1", "ZZ"), []);
  assert.deepEqual(events(noDb, "203.0.113.1", "US"), ["geo_zone_US"], "a valid geo still counts");
});

Deno.test("geoZones() falls back to the database for a geo that is no country code", () => {
  const f = geoZones(config({ allow: ["DE"] }), countries({ "203.0.113.9": "US" }));
  for (const geo of ["XX", "ZZ", "zz", "A1", "--", ""]) {
    assert.deepEqual(events(f, "203.0.113.9", geo), ["geo_zone_US"], `geo ${JSON.stringify(geo)}`);
  }
});

Deno.test("geoZones() ignores the response phase", () => {
  const asked: string[] = [];
  const f = geoZones(config({ deny: ["RU"] }), countries({ "203.0.113.1": "RU" }, asked));
  assert.deepEqual(events(f, "203.0.113.1", "RU", "response"), []);
  assert.deepEqual(events(f, "203.0.113.1", "", "response"), []);
  assert.deepEqual(asked, []);
  assert.deepEqual(events(f, "203.0.113.1", "RU"), ["geo_zone_RU"]);
});

Deno.test("geoZones() names its event geo_zone_<CC> and sets no flags", () => {
  const f = geoZones(config({ allow: ["DE"] }));
  assert.equal(f.name, "geo_zones");
  const record = rec({ ip: "203.0.113.1", geo: "br" });
  const ctx = ctxFor(record, 0);
  f.run(record, ctx);
  assert.deepEqual(ctx.events, ["geo_zone_BR"]);
  assert.match(ctx.events[0]!, /^geo_zone_[A-Z]{2}$/);
  assert.equal(ctx.flags.size, 0);
});

Deno.test("geo_zones schema accepts only upper-case two-letter country codes", () => {
  assert.throws(() => config({ allow: ["de"] }), /ISO 3166/);
  assert.throws(() => config({ deny: ["DEU"] }), /ISO 3166/);
  assert.deepEqual(config({ allow: ["DE"] }).deny, []);
});

Deno.test("geoZones() treats legacy EU/AP codes and a bad lookup answer as unknown", () => {
  const f = geoZones(
    { enabled: true, skip_if: [], allow: ["DE"], deny: [] },
    { country: () => "zz" },
  );
  for (const geo of ["EU", "AP", "A1", ""]) {
    const record = rec({ ip: "203.0.113.9", geo });
    const ctx = ctxFor(record, 0);
    f.run(record, ctx);
    assert.deepEqual(ctx.events, [], geo);
  }
});
