import type { Infer, Schema } from "./schema.ts";

const flagList = {
  type: "array",
  items: { type: "string" },
  default: [],
} as const satisfies Schema;
const common = {
  enabled: { type: "boolean", default: true },
  skip_if: flagList,
} as const satisfies Record<string, Schema>;

/** Names the seed and SPEC give filters' event families and lists: letters, digits, `_.-`. */
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const name = {
  type: "string",
  pattern: NAME,
  patternHint: "a name of 1-64 letters, digits, _ . -",
} as const satisfies Schema;
const regex = { type: "string", regex: true, default: "" } as const satisfies Schema;

const scoreRing = {
  type: "object",
  fields: {
    history_size: { type: "integer", min: 1, max: 4096, default: 40 },
    max_score: { type: "integer", min: 1, max: 4096, default: 20 },
    min_repeats: { type: "integer", min: 1, max: 4096, default: 3 },
    timeout: { type: "integer", min: 1, default: 300 },
  },
} as const satisfies Schema;

const ipv6Prefix = { type: "integer", min: 16, max: 128, default: 64 } as const satisfies Schema;
const listFile = {
  type: "string",
  pattern: /^([A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\.txt)?$/,
  patternHint: 'a list file name like "sensitive_files.txt" (no directories), or "" for none',
} as const satisfies Schema;
const entries = { type: "array", items: { type: "string" }, default: [] } as const satisfies Schema;
const backend = {
  backend: { type: "string", enum: ["local", "memcached"], default: "local" },
  servers: {
    type: "array",
    items: { type: "string", pattern: /^[^\s:]+:\d{1,5}$/, patternHint: "host:port" },
    default: [],
  },
  timeout_ms: { type: "integer", min: 1, max: 10000, default: 50 },
} as const satisfies Record<string, Schema>;
/** A per-IP count within a window: `events` within `window` seconds (0 events = off). */
const perIpWindow = (events: number, window: number) =>
  ({
    type: "object",
    fields: {
      events: { type: "integer", min: 0, max: 1_000_000, default: events },
      window: { type: "integer", min: 1, max: 86_400, default: window },
    },
  }) as const satisfies Schema;

const countryCode = {
  type: "string",
  pattern: /^[A-Z]{2}$/,
  patternHint: "an ISO 3166 country code like DE",
} as const satisfies Schema;

const threshold = {
  type: "object",
  fields: {
    events: { type: "integer", min: 0, default: 0 },
    ips: { type: "integer", min: 0, default: 0 },
  },
} as const satisfies Schema;

/**
 * The type table of every component (seed §4.2). Order is the seed's alphabetical order, the
 * order `GET /filters/<domain>` lists them in.
 */
export const COMPONENT_SCHEMAS = {
  fixed_lists: {
    type: "object",
    fields: {
      ...common,
      lists: {
        type: "array",
        items: {
          type: "object",
          required: ["name", "type"],
          fields: {
            name,
            type: { type: "string", enum: ["white", "black", "flags"] },
            entries: { type: "array", items: { type: "string" }, default: [] },
            file: { type: "string", default: "" },
            flags: flagList,
          },
        },
        default: [],
      },
      use: { type: "array", items: name, default: [] },
      use_component_use: { type: "boolean", default: true },
    },
  },
  geo_zones: {
    type: "object",
    fields: {
      ...common,
      enabled: { type: "boolean", default: false },
      // ISO country codes. allow: only these may visit; deny: these may not. Unknown = allowed.
      allow: { type: "array", items: countryCode, default: [] },
      deny: { type: "array", items: countryCode, default: [] },
    },
  },
  limit_req_mc: {
    type: "object",
    fields: {
      ...common,
      enabled: { type: "boolean", default: false },
      ...backend,
      ipv6_prefix: ipv6Prefix,
      configurations: {
        type: "array",
        items: {
          type: "object",
          required: ["name", "rate"],
          fields: {
            name,
            host: regex,
            method: { type: "string", default: "" },
            path: regex,
            location: { type: "string", default: "/" },
            key: { type: "string", enum: ["ip", "ip_ua", "ip_path"], default: "ip" },
            rate: {
              type: "string",
              pattern: /^\d+(\.\d+)?r\/[sm]$/,
              patternHint: 'a rate like "10r/s" or "600r/m"',
            },
            burst: { type: "integer", min: 0, default: 0 },
            nodelay: { type: "boolean", default: false },
          },
        },
        default: [],
      },
    },
  },
  lm: {
    type: "object",
    fields: {
      lists: {
        type: "array",
        items: {
          type: "object",
          required: ["name"],
          fields: {
            name,
            timeout: { type: "integer", min: 1, default: 3600 },
            max_entries: { type: "integer", min: 1, default: 100000 },
          },
        },
        default: [],
      },
      projections: {
        type: "array",
        items: {
          type: "object",
          required: ["name", "events"],
          fields: {
            name,
            events: { type: "string", regex: true },
            rule_name: { type: "string", default: "tsng.location_rate" },
            state: { type: "string", enum: ["auto", "enabled", "disabled"], default: "enabled" },
            timeout: { type: "integer", min: 1, default: 3600 },
            nursery: threshold,
            activation: threshold,
            watch_ttl: { type: "integer", min: 1, default: 600 },
            cooldown: { type: "integer", min: 0, default: 0 },
            skip_if: flagList,
            // Per-IP evidence before an add in block mode: a visitor's stray event bans nobody.
            evidence: perIpWindow(1, 60),
            // One source this far over, alone, is banned even while the projection is in
            // nursery or watch (0 events = never).
            bypass: perIpWindow(0, 10),
            // An IPv6 client's events count for, and its ban covers, its /ipv6_prefix (128: the
            // address alone, right for lists of addresses; default.conf sets 64 on behaviour).
            ipv6_prefix: { ...ipv6Prefix, default: 128 },
            // Decide and log as configured, keep would-be bans in /bans, publish nothing: try a
            // rule on live traffic before it bans anyone.
            simulate: { type: "boolean", default: false },
            // Repeat offenders: each new ban of a source lasts `factor` times its previous one,
            // at most `max` seconds; a source with no ban for `forget` seconds starts over.
            escalation: {
              type: "object",
              fields: {
                factor: { type: "number", min: 1, max: 100, default: 1 },
                max: { type: "integer", min: 1, default: 604_800 },
                forget: { type: "integer", min: 1, default: 604_800 },
              },
            },
          },
        },
        default: [],
      },
      use_component_projections: { type: "boolean", default: true },
    },
  },
  location_flags: {
    type: "object",
    fields: {
      ...common,
      locations: {
        type: "array",
        items: {
          type: "object",
          fields: {
            host: regex,
            method: { type: "string", default: "" },
            path: regex,
            flags: {
              type: "array",
              items: {
                type: "object",
                required: ["flag"],
                fields: { flag: name, value: { type: "boolean", default: true } },
              },
              default: [],
            },
            stop: { type: "boolean", default: false },
          },
        },
        default: [],
      },
    },
  },
  lua: {
    type: "object",
    fields: {
      ...common,
      scripts: {
        type: "array",
        items: {
          type: "object",
          required: ["file"],
          fields: {
            file: {
              type: "string",
              pattern: /^[A-Za-z0-9_.-]+\.lua$/,
              patternHint: "a file name like default.lua (no directories)",
            },
          },
        },
        default: [],
      },
      instruction_budget: { type: "integer", min: 1000, default: 100000 },
      memory_limit_mb: { type: "integer", min: 1, max: 1024, default: 64 },
    },
  },
  many_uas: {
    type: "object",
    fields: {
      ...common,
      max_uas: { type: "integer", min: 1, max: 1000, default: 10 },
      window: { type: "integer", min: 1, default: 300 },
      // A UA rotator brings a new User-Agent with nearly every request; people behind a NAT
      // gateway keep theirs. Below this share of recent requests with a new UA: no event.
      min_new_share: { type: "number", min: 0, max: 1, default: 0.5 },
    },
  },
  probe_detector: {
    type: "object",
    fields: {
      ...common,
      // The site runs WordPress: its paths (wordpress_paths) are no probes here.
      wordpress: { type: "boolean", default: false },
      files: { ...listFile, default: "sensitive_files.txt" },
      paths: { ...listFile, default: "sensitive_paths.txt" },
      patterns: { ...listFile, default: "attack_patterns.txt" },
      user_agents: { ...listFile, default: "scanner_user_agents.txt" },
      wordpress_paths: { ...listFile, default: "wordpress_paths.txt" },
      extra_files: entries,
      extra_paths: entries,
      extra_patterns: entries,
      extra_user_agents: entries,
      // Path prefixes this site really serves though a list names them (e.g. /phpmyadmin/).
      except_paths: entries,
    },
  },
  qpc: {
    type: "object",
    fields: {
      worker: { type: "string", default: "wrk" },
      broadcast: { type: "boolean", default: false },
    },
  },
  request_hash_score: {
    type: "object",
    fields: {
      ...common,
      enabled: { type: "boolean", default: false },
      per_ip: scoreRing,
      per_useragent: {
        ...scoreRing,
        fields: {
          ...scoreRing.fields,
          history_size: { type: "integer", min: 1, max: 4096, default: 20 },
          max_score: { type: "integer", min: 1, max: 4096, default: 10 },
        },
      },
    },
  },
  response_status: {
    type: "object",
    fields: {
      ...common,
      ...backend,
      ipv6_prefix: ipv6Prefix,
      rules: {
        type: "array",
        items: {
          type: "object",
          required: ["name", "status", "count", "window"],
          fields: {
            name,
            status: {
              type: "array",
              items: { type: "integer", min: 100, max: 599 },
              minItems: 1,
            },
            // The rule's scope: requests of this method and path (empty = any), without these
            // flags. Failures and the share are counted within the scope.
            method: { type: "string", default: "" },
            path: regex,
            unless: flagList,
            // count failures within window seconds (fail2ban maxretry/findtime) …
            count: { type: "integer", min: 1, max: 100_000 },
            window: { type: "integer", min: 1, max: 86_400 },
            // … and at least this share of the source's requests in scope failed.
            min_share: { type: "number", min: 0, max: 1, default: 0 },
          },
        },
        default: [],
      },
    },
  },
  statstore_http_stats: {
    type: "object",
    fields: { ...common },
  },
  telemetry_http_sampler: {
    type: "object",
    fields: {
      ...common,
      rate: { type: "number", min: 0, max: 1, default: 0.001 },
      // A bare file name, written under <state_dir>/telemetry/: API input must not pick the path.
      file: {
        type: "string",
        pattern: /^([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$/,
        patternHint: "a file name (no directories), written under state_dir/telemetry/",
        default: "",
      },
    },
  },
  trusted_sources: {
    type: "object",
    fields: {
      ...common,
      // Verify claimed search-engine crawlers by forward-confirmed reverse DNS (crawlers.txt).
      crawlers: { type: "boolean", default: true },
      crawler_list: { ...listFile, default: "crawlers.txt" },
      extra_crawlers: entries,
      // Flag private, loopback, link-local and CGNAT sources (health checks, monitoring).
      private_ranges: { type: "boolean", default: true },
      dns_timeout_ms: { type: "integer", min: 10, max: 30_000, default: 2000 },
      cache_ttl: { type: "integer", min: 1, max: 604_800, default: 3600 },
      cache_size: { type: "integer", min: 1, max: 1_000_000, default: 10_000 },
    },
  },
  ua_parser: {
    type: "object",
    fields: {
      ...common,
      events: flagList,
      cache_size: { type: "integer", min: 0, max: 1_000_000, default: 10000 },
    },
  },
} as const satisfies Record<string, Schema>;

/** A component's name. */
export type ComponentName = keyof typeof COMPONENT_SCHEMAS;

/** Every component name, in the order the API lists them. */
export const COMPONENT_NAMES = Object.keys(COMPONENT_SCHEMAS) as ComponentName[];

/** True when `name` is a known component. */
export function isComponentName(name: string): name is ComponentName {
  return Object.hasOwn(COMPONENT_SCHEMAS, name);
}

/** The validated configuration of one component, typed from its schema. */
export type ComponentConfig<N extends ComponentName> = Infer<(typeof COMPONENT_SCHEMAS)[N]>;

/** geo_zones configuration. */
export type GeoZonesConfig = ComponentConfig<"geo_zones">;
/** probe_detector configuration. */
export type ProbeDetectorConfig = ComponentConfig<"probe_detector">;
/** response_status configuration. */
export type ResponseStatusConfig = ComponentConfig<"response_status">;
/** One response_status rule. */
export type StatusRule = ResponseStatusConfig["rules"][number];
/** trusted_sources configuration. */
export type TrustedSourcesConfig = ComponentConfig<"trusted_sources">;
/** fixed_lists configuration. */
export type FixedListsConfig = ComponentConfig<"fixed_lists">;
/** limit_req_mc configuration. */
export type LimitReqConfig = ComponentConfig<"limit_req_mc">;
/** One limit_req_mc zone. */
export type LimitReqZone = LimitReqConfig["configurations"][number];
/** lm configuration. */
export type LmConfig = ComponentConfig<"lm">;
/** One list-manager projection (seed §2.2.4). */
export type ProjectionConfig = LmConfig["projections"][number];
/** Event and distinct-IP counts over one 30 s tick. */
export type Threshold = ProjectionConfig["nursery"];
/** location_flags configuration. */
export type LocationFlagsConfig = ComponentConfig<"location_flags">;
/** One location_flags rule. */
export type LocationRule = LocationFlagsConfig["locations"][number];
/** lua configuration. */
export type LuaConfig = ComponentConfig<"lua">;
/** many_uas configuration. */
export type ManyUasConfig = ComponentConfig<"many_uas">;
/** qpc configuration. */
export type QpcConfig = ComponentConfig<"qpc">;
/** request_hash_score configuration. */
export type RequestHashScoreConfig = ComponentConfig<"request_hash_score">;
/** One request_hash_score ring. */
export type ScoreRingConfig = RequestHashScoreConfig["per_ip"];
/** statstore_http_stats configuration. */
export type StatstoreConfig = ComponentConfig<"statstore_http_stats">;
/** telemetry_http_sampler configuration. */
export type TelemetryConfig = ComponentConfig<"telemetry_http_sampler">;
/** ua_parser configuration. */
export type UaParserConfig = ComponentConfig<"ua_parser">;

/** The complete configuration of one domain: every component, validated and defaulted. */
export type DomainConfig = { -readonly [N in ComponentName]: ComponentConfig<N> };
