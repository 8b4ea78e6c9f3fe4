import type { Schema } from "./schema.ts";

const flagList: Schema = { type: "array", items: { type: "string" }, default: [] };
const common = {
  enabled: { type: "boolean", default: true },
  skip_if: flagList,
} as const satisfies Record<string, Schema>;

/** Names the seed and SPEC give filters' event families and lists: letters, digits, `_.-`. */
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const name: Schema = {
  type: "string",
  pattern: NAME,
  patternHint: "a name of 1-64 letters, digits, _ . -",
};
const regex: Schema = { type: "string", regex: true, default: "" };

const scoreRing: Schema = {
  type: "object",
  fields: {
    history_size: { type: "integer", min: 1, max: 4096, default: 40 },
    max_score: { type: "integer", min: 1, max: 4096, default: 20 },
    min_repeats: { type: "integer", min: 1, max: 4096, default: 3 },
    timeout: { type: "integer", min: 1, default: 300 },
  },
};

const threshold: Schema = {
  type: "object",
  fields: {
    events: { type: "integer", min: 0, default: 0 },
    ips: { type: "integer", min: 0, default: 0 },
  },
};

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
  limit_req_mc: {
    type: "object",
    fields: {
      ...common,
      enabled: { type: "boolean", default: false },
      backend: { type: "string", enum: ["local", "memcached"], default: "local" },
      servers: {
        type: "array",
        items: { type: "string", pattern: /^[^\s:]+:\d{1,5}$/, patternHint: "host:port" },
        default: [],
      },
      timeout_ms: { type: "integer", min: 1, max: 10000, default: 50 },
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
          ...(scoreRing as { fields: Record<string, Schema> }).fields,
          history_size: { type: "integer", min: 1, max: 4096, default: 20 },
          max_score: { type: "integer", min: 1, max: 4096, default: 10 },
        },
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

interface Common {
  enabled: boolean;
  skip_if: string[];
}

/** fixed_lists configuration. */
export interface FixedListsConfig extends Common {
  lists: {
    name: string;
    type: "white" | "black" | "flags";
    entries: string[];
    file: string;
    flags: string[];
  }[];
  use: string[];
  use_component_use: boolean;
}

/** One limit_req_mc zone. */
export interface LimitReqZone {
  name: string;
  host: string;
  method: string;
  path: string;
  location: string;
  key: "ip" | "ip_ua" | "ip_path";
  rate: string;
  burst: number;
  nodelay: boolean;
}

/** limit_req_mc configuration. */
export interface LimitReqConfig extends Common {
  backend: "local" | "memcached";
  servers: string[];
  /** memcached request deadline; past it the request is decided locally. */
  timeout_ms?: number;
  configurations: LimitReqZone[];
}

/** Event and distinct-IP counts over one 30 s tick. */
export interface Threshold {
  events: number;
  ips: number;
}

/** One list-manager projection (seed §2.2.4). */
export interface ProjectionConfig {
  name: string;
  events: string;
  rule_name: string;
  state: "auto" | "enabled" | "disabled";
  timeout: number;
  nursery: Threshold;
  activation: Threshold;
  watch_ttl: number;
  cooldown: number;
  skip_if: string[];
}

/** lm configuration. */
export interface LmConfig {
  lists: { name: string; timeout: number; max_entries: number }[];
  projections: ProjectionConfig[];
  use_component_projections: boolean;
}

/** One location_flags rule. */
export interface LocationRule {
  host: string;
  method: string;
  path: string;
  flags: { flag: string; value: boolean }[];
  stop: boolean;
}

/** location_flags configuration. */
export interface LocationFlagsConfig extends Common {
  locations: LocationRule[];
}

/** lua configuration. */
export interface LuaConfig extends Common {
  scripts: { file: string }[];
  instruction_budget: number;
  memory_limit_mb: number;
}

/** many_uas configuration. */
export interface ManyUasConfig extends Common {
  max_uas: number;
  window: number;
}

/** qpc configuration. */
export interface QpcConfig {
  worker: string;
  broadcast: boolean;
}

/** One request_hash_score ring. */
export interface ScoreRingConfig {
  history_size: number;
  max_score: number;
  min_repeats: number;
  timeout: number;
}

/** request_hash_score configuration. */
export interface RequestHashScoreConfig extends Common {
  per_ip: ScoreRingConfig;
  per_useragent: ScoreRingConfig;
}

/** statstore_http_stats configuration. */
export type StatstoreConfig = Common;

/** telemetry_http_sampler configuration. */
export interface TelemetryConfig extends Common {
  rate: number;
  file: string;
}

/** ua_parser configuration. */
export interface UaParserConfig extends Common {
  events: string[];
  cache_size: number;
}

/** The complete configuration of one domain: every component, validated and defaulted. */
export interface DomainConfig {
  fixed_lists: FixedListsConfig;
  limit_req_mc: LimitReqConfig;
  lm: LmConfig;
  location_flags: LocationFlagsConfig;
  lua: LuaConfig;
  many_uas: ManyUasConfig;
  qpc: QpcConfig;
  request_hash_score: RequestHashScoreConfig;
  statstore_http_stats: StatstoreConfig;
  telemetry_http_sampler: TelemetryConfig;
  ua_parser: UaParserConfig;
}
