/**
 * GeoIP lookups in a MaxMind DB file (GeoLite2/GeoIP2 Country or City, or an ip-location-db
 * `.mmdb`) through mmdb-lib, with a small LRU cache in front because every ban command asks.
 */
import { Buffer } from "node:buffer";
import { Reader, type Response as MmdbResponse } from "mmdb-lib";
import { formatIPv4, formatIPv6Hex, ipKey, isPrivateAddress } from "../net/ip.ts";
import { LruCache } from "../cache/lru_cache.ts";

/** Country and city of an address; `""` for whatever is unknown. */
export interface GeoLocation {
  /** ISO 3166-1 alpha-2 code, upper case, or `""`. */
  country: string;
  /** City name (English where the database has several languages), or `""`. */
  city: string;
}

/** A GeoIP database opened for lookups. */
export interface GeoIp {
  /** ISO 3166-1 alpha-2 code of `ip`; `""` when unknown, not an IP, or private/loopback. */
  country(ip: string): string;
  /** Country code and city name of `ip`, each `""` when unknown. */
  city(ip: string): GeoLocation;
  /** Releases the database; later lookups answer `""`. */
  close(): void;
}

/** Options for {@linkcode openGeoIp}. */
export interface GeoIpOptions {
  /** Lookups remembered, keyed by the address text as given (default 10 000). */
  cacheSize?: number;
}

const DEFAULT_CACHE_SIZE = 10_000;
// The spec puts the metadata within the last 128 KiB and starts it after this marker.
const METADATA_MARKER = new Uint8Array([
  0xab,
  0xcd,
  0xef,
  ...new TextEncoder().encode("MaxMind.com"),
]);
const METADATA_MAX_SIZE = 128 * 1024;
const DATA_SECTION_SEPARATOR_SIZE = 16;
const UNKNOWN: GeoLocation = Object.freeze({ country: "", city: "" });

/** A GeoIp that knows nothing: for when no `geoip_db` is configured. */
export function noGeoIp(): GeoIp {
  return {
    country: () => "",
    city: () => ({ country: "", city: "" }),
    close: () => {},
  };
}

/**
 * Opens the MaxMind DB file at `path`, reading it whole into memory. Throws an Error naming the
 * path when it cannot be read, and a SyntaxError when it is not a usable MaxMind DB (truncated,
 * corrupt, not .mmdb at all).
 *
 * @example
 * ```ts
 * const geo = await openGeoIp("tests/fixtures/geo/test-country.mmdb");
 * geo.country("198.51.100.7"); // "US"
 * geo.close();
 * ```
 */
export async function openGeoIp(path: string, options: GeoIpOptions = {}): Promise<GeoIp> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (cause) {
    const why = cause instanceof Deno.errors.NotFound
      ? "no such file"
      : cause instanceof Error
      ? cause.message
      : String(cause);
    throw new Error(`Cannot open GeoIP database "${path}": ${why}`, { cause });
  }
  const reader = openReader(path, bytes);
  const ipVersion = reader.metadata.ipVersion;
  const cache = new LruCache<string, GeoLocation>(options.cacheSize ?? DEFAULT_CACHE_SIZE);
  let open: Reader<MmdbResponse> | undefined = reader;

  function locate(ip: string): GeoLocation {
    if (open === undefined) return UNKNOWN;
    const hit = cache.get(ip);
    if (hit !== undefined) return hit;
    const found = lookUp(open, ipVersion, ip);
    cache.set(ip, found);
    return found;
  }

  return {
    country: (ip) => locate(ip).country,
    city: (ip) => {
      const found = locate(ip);
      return { country: found.country, city: found.city };
    },
    close: () => {
      open = undefined;
      cache.clear();
    },
  };
}

/** Checks the file's framing before mmdb-lib sees it: mmdb-lib reads garbage without complaint. */
function openReader(path: string, bytes: Uint8Array): Reader<MmdbResponse> {
  const bad = (what: string, cause?: unknown): SyntaxError =>
    new SyntaxError(
      `GeoIP database "${path}" is not a usable MaxMind DB: ${what}`,
      cause === undefined ? undefined : { cause },
    );
  if (bytes.length === 0) throw bad("the file is empty");
  const marker = lastIndexOf(bytes, METADATA_MARKER, Math.max(0, bytes.length - METADATA_MAX_SIZE));
  if (marker < 0) {
    throw bad(
      `no metadata marker "\\xAB\\xCD\\xEFMaxMind.com" in its last 128 KiB ` +
        `(${bytes.length} bytes; truncated, or not an .mmdb file)`,
    );
  }
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let reader: Reader<MmdbResponse>;
  try {
    reader = new Reader<MmdbResponse>(buffer);
  } catch (cause) {
    throw bad(
      `metadata at byte ${marker} cannot be decoded, truncated or corrupt (${String(cause)})`,
      cause,
    );
  }
  const m = reader.metadata;
  if (m.binaryFormatMajorVersion !== 2) {
    throw bad(`binary_format_major_version is ${m.binaryFormatMajorVersion}, expected 2`);
  }
  if (m.ipVersion !== 4 && m.ipVersion !== 6) throw bad(`ip_version is ${m.ipVersion}`);
  if (!Number.isInteger(m.nodeCount) || m.nodeCount < 1) {
    throw bad(`node_count is ${m.nodeCount}`);
  }
  const dataStart = m.searchTreeSize + DATA_SECTION_SEPARATOR_SIZE;
  if (dataStart > marker) {
    throw bad(
      `its search tree of ${m.nodeCount} nodes needs ${dataStart} bytes before the data ` +
        `section, but the metadata starts at byte ${marker} (truncated?)`,
    );
  }
  for (let i = m.searchTreeSize; i < dataStart; i++) {
    if (bytes[i] !== 0) {
      throw bad(
        `the 16 zero bytes after the search tree (at byte ${m.searchTreeSize}) are not zero`,
      );
    }
  }
  // One walk down each tree half reaches the data section decoder, so gross corruption there
  // shows at open time instead of as silent "" answers later.
  try {
    reader.get(m.ipVersion === 6 ? "2001:db8::1" : "192.0.2.1");
    reader.get("198.51.100.1");
  } catch (cause) {
    throw bad(`a test lookup failed (${String(cause)})`, cause);
  }
  return reader;
}

function lookUp(reader: Reader<MmdbResponse>, ipVersion: number, ip: string): GeoLocation {
  const key = ipKey(ip.trim());
  if (key === undefined || isPrivateAddress(key)) return UNKNOWN;
  // An IPv4-only tree is 32 levels deep; walking it with 128 bits would land anywhere.
  if (key.v === 6 && ipVersion === 4) return UNKNOWN;
  let record: unknown;
  try {
    record = reader.get(key.v === 4 ? formatIPv4(key.n) : formatIPv6Hex(key.hex));
  } catch {
    // A corrupt record must not take the sensor down; the address just has no location.
    return UNKNOWN;
  }
  return extract(record);
}

/** Pulls country and city out of the MaxMind and the ip-location-db record shapes. */
function extract(record: unknown): GeoLocation {
  if (!isObject(record)) return UNKNOWN;
  const country = isoCode(field(field(record, "country"), "iso_code")) ||
    isoCode(field(field(record, "registered_country"), "iso_code")) ||
    isoCode(field(record, "country_code"));
  const cityField = field(record, "city");
  const city = typeof cityField === "string" ? cityField : englishName(field(cityField, "names"));
  return { country, city };
}

function englishName(names: unknown): string {
  if (!isObject(names)) return "";
  const en = names["en"];
  if (typeof en === "string") return en;
  // Some GeoLite2 cities have names only in other languages; any name beats none.
  for (const value of Object.values(names)) if (typeof value === "string") return value;
  return "";
}

function isoCode(value: unknown): string {
  if (typeof value !== "string") return "";
  const code = value.toUpperCase();
  // DB-IP marks reserved ranges "ZZ"; anything not two letters is not a country either.
  return /^[A-Z]{2}$/.test(code) && code !== "ZZ" ? code : "";
}

function field(value: unknown, name: string): unknown {
  return isObject(value) ? value[name] : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function lastIndexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = haystack.length - needle.length; i >= from; i--) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}
