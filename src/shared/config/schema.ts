import { compileRegex } from "./regex.ts";

/**
 * A small declarative type table for component configuration. Validation happens once at load;
 * it fills field defaults and names the exact path of the first problem, so a filter factory
 * receives a complete, typed object and never re-checks per request.
 */
export type Schema =
  | { type: "boolean"; default?: boolean }
  | { type: "integer"; min?: number; max?: number; default?: number }
  | { type: "number"; min?: number; max?: number; default?: number }
  | {
    type: "string";
    enum?: readonly string[];
    /** The value must compile as an RE2 regular expression. */
    regex?: boolean;
    pattern?: RegExp;
    patternHint?: string;
    default?: string;
  }
  | { type: "array"; items: Schema; maxItems?: number; default?: readonly unknown[] }
  | {
    type: "object";
    fields: Readonly<Record<string, Schema>>;
    required?: readonly string[];
    default?: Readonly<Record<string, unknown>>;
  };

/** Raised for a value that does not match its schema; `path` is the dotted location. */
export class ConfigError extends TypeError {
  constructor(readonly path: string, readonly reason: string, options?: ErrorOptions) {
    super(`${path}: ${reason}`, options);
    this.name = "ConfigError";
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`;
}

function clone<T>(value: T): T {
  return value === undefined ? value : structuredClone(value);
}

/**
 * Checks `value` against `schema` and returns a normalised deep copy with defaults filled.
 * Unknown object fields are errors: a typo in a ban rule must not pass silently.
 */
export function validate(schema: Schema, value: unknown, path: string): unknown {
  switch (schema.type) {
    case "boolean":
      if (typeof value !== "boolean") {
        throw new ConfigError(path, `expected true or false, got ${describe(value)}`);
      }
      return value;
    case "integer":
    case "number": {
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw new ConfigError(path, `expected a number, got ${describe(value)}`);
      }
      if (schema.type === "integer" && !Number.isInteger(value)) {
        throw new ConfigError(path, `expected an integer, got ${value}`);
      }
      if (schema.min !== undefined && value < schema.min) {
        throw new ConfigError(path, `${value} is below the minimum ${schema.min}`);
      }
      if (schema.max !== undefined && value > schema.max) {
        throw new ConfigError(path, `${value} is above the maximum ${schema.max}`);
      }
      return value;
    }
    case "string": {
      if (typeof value !== "string") {
        throw new ConfigError(path, `expected a string, got ${describe(value)}`);
      }
      if (schema.enum && !schema.enum.includes(value)) {
        throw new ConfigError(path, `"${value}" is not one of ${schema.enum.join(", ")}`);
      }
      if (schema.pattern && !schema.pattern.test(value)) {
        throw new ConfigError(
          path,
          `"${value}" is not ${schema.patternHint ?? `like ${schema.pattern}`}`,
        );
      }
      if (schema.regex && value !== "") {
        try {
          compileRegex(value);
        } catch (error) {
          throw new ConfigError(path, `not a valid RE2 regex: ${(error as Error).message}`, {
            cause: error,
          });
        }
      }
      return value;
    }
    case "array": {
      if (!Array.isArray(value)) {
        throw new ConfigError(path, `expected an array, got ${describe(value)}`);
      }
      if (schema.maxItems !== undefined && value.length > schema.maxItems) {
        throw new ConfigError(path, `${value.length} items exceed the limit of ${schema.maxItems}`);
      }
      return value.map((item, i) => validate(schema.items, item, `${path}[${i}]`));
    }
    case "object": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new ConfigError(path, `expected an object, got ${describe(value)}`);
      }
      const input = value as Record<string, unknown>;
      for (const key of Object.keys(input)) {
        if (!Object.hasOwn(schema.fields, key)) {
          throw new ConfigError(
            path,
            `unknown field "${key}" (known: ${Object.keys(schema.fields).join(", ")})`,
          );
        }
      }
      const out: Record<string, unknown> = {};
      for (const [key, fieldSchema] of Object.entries(schema.fields)) {
        const fieldPath = `${path}.${key}`;
        if (input[key] === undefined) {
          if (schema.required?.includes(key)) {
            throw new ConfigError(path, `missing required field "${key}"`);
          }
          const fallback = defaultOf(fieldSchema);
          if (fallback !== undefined) out[key] = fallback;
          continue;
        }
        out[key] = validate(fieldSchema, input[key], fieldPath);
      }
      return out;
    }
  }
}

/** The value a schema gives a missing field: its default, or an object of its fields' defaults. */
export function defaultOf(schema: Schema): unknown {
  if (schema.default !== undefined) return clone(schema.default);
  if (schema.type === "object" && !schema.required?.length) {
    return validate(schema, {}, "(default)");
  }
  return undefined;
}
