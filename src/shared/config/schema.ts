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
  | {
    type: "array";
    items: Schema;
    minItems?: number;
    maxItems?: number;
    default?: readonly unknown[];
  }
  | {
    type: "object";
    fields: Readonly<Record<string, Schema>>;
    required?: readonly string[];
    default?: Readonly<Record<string, unknown>>;
  }
  /** An object with free keys (matching `keyPattern` when set), every value of one schema. */
  | {
    type: "map";
    values: Schema;
    keyPattern?: RegExp;
    keyHint?: string;
    default?: Readonly<Record<string, unknown>>;
  }
  /**
   * The first option that fits: an object goes to the first object option that knows all its
   * keys, anything else to the first option of its JSON type. `hint` says what was expected.
   */
  | { type: "oneOf"; options: readonly Schema[]; hint: string; default?: unknown }
  /** Anything; checked by the caller (a nested component validated by its own schema). */
  | { type: "any"; default?: unknown };

/** Raised for a value that does not match its schema; `path` is the dotted location. */
export class ConfigError extends TypeError {
  constructor(readonly path: string, readonly reason: string, options?: ErrorOptions) {
    super(path === "" ? reason : `${path}: ${reason}`, options);
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
export function validate(
  schema: Schema,
  value: unknown,
  path: string,
  problems?: ConfigError[],
): unknown {
  // With `problems`, every error below is collected and the walk goes on with its siblings.
  const child = (s: Schema, v: unknown, p: string): unknown => {
    if (!problems) return validate(s, v, p);
    try {
      return validate(s, v, p, problems);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(error);
      return undefined;
    }
  };
  const report = (error: ConfigError): void => {
    if (!problems) throw error;
    problems.push(error);
  };
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
      if (schema.minItems !== undefined && value.length < schema.minItems) {
        throw new ConfigError(path, `needs at least ${schema.minItems} item(s)`);
      }
      if (schema.maxItems !== undefined && value.length > schema.maxItems) {
        throw new ConfigError(path, `${value.length} items exceed the limit of ${schema.maxItems}`);
      }
      return value.map((item, i) => child(schema.items, item, `${path}[${i}]`));
    }
    case "map": {
      if (!isPlainObject(value)) {
        throw new ConfigError(path, `expected an object, got ${describe(value)}`);
      }
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        if (schema.keyPattern && !schema.keyPattern.test(key)) {
          throw new ConfigError(
            fieldPath(path, key),
            `is not ${schema.keyHint ?? `a key like ${schema.keyPattern}`}`,
          );
        }
        out[key] = child(schema.values, item, fieldPath(path, key));
      }
      return out;
    }
    case "oneOf": {
      const option = pickOption(schema.options, value);
      if (option === undefined) {
        throw new ConfigError(path, `expected ${schema.hint}, got ${describe(value)}`);
      }
      return validate(option, value, path);
    }
    case "any":
      return value;
    case "object": {
      if (!isPlainObject(value)) {
        throw new ConfigError(path, `expected an object, got ${describe(value)}`);
      }
      const input = value;
      for (const key of Object.keys(input)) {
        if (!Object.hasOwn(schema.fields, key)) {
          report(
            new ConfigError(
              path,
              `unknown field "${key}" (known: ${knownList(Object.keys(schema.fields))})`,
            ),
          );
        }
      }
      const out: Record<string, unknown> = {};
      for (const [key, fieldSchema] of Object.entries(schema.fields)) {
        const where = fieldPath(path, key);
        if (input[key] === undefined) {
          if (schema.required?.includes(key)) {
            report(new ConfigError(path, `missing required field "${key}"`));
            continue;
          }
          const fallback = defaultOf(fieldSchema);
          if (fallback !== undefined) out[key] = fallback;
          continue;
        }
        out[key] = child(fieldSchema, input[key], where);
      }
      return out;
    }
  }
}

function knownList(names: string[]): string {
  return names.length <= 16 ? names.join(", ") : `${names.slice(0, 16).join(", ")}, …`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Date);
}

function fieldPath(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

const JSON_TYPE: Record<Schema["type"], string> = {
  boolean: "boolean",
  integer: "number",
  number: "number",
  string: "string",
  array: "array",
  object: "object",
  map: "object",
  oneOf: "",
  any: "",
};

function pickOption(options: readonly Schema[], value: unknown): Schema | undefined {
  const kind = Array.isArray(value) ? "array" : value === null ? "null" : typeof value;
  for (const option of options) {
    if (option.type === "any") return option;
    if (JSON_TYPE[option.type] !== kind) continue;
    if (option.type !== "object") return option;
    const keys = Object.keys(value as Record<string, unknown>);
    if (keys.every((k) => Object.hasOwn(option.fields, k))) return option;
  }
  return undefined;
}

/** The value a schema gives a missing field: its default, or an object of its fields' defaults. */
export function defaultOf(schema: Schema): unknown {
  if (schema.default !== undefined) return clone(schema.default);
  if (schema.type === "object" && !schema.required?.length) {
    return validate(schema, {}, "(default)");
  }
  return undefined;
}

// Types derived from a schema, so a component's TypeScript type and its validator are one source.
type RequiredKeys<S> = S extends { required: readonly (infer R)[] } ? R : never;
/** True when validation always fills the field: a default, or an object with no required field. */
type AlwaysPresent<S> = S extends { default: unknown } ? true
  : S extends { type: "object"; required: readonly [unknown, ...unknown[]] } ? false
  : S extends { type: "object" } ? true
  : false;
type Simplify<T> = { [K in keyof T]: T[K] } & unknown;
type InferObject<S extends { fields: Readonly<Record<string, Schema>> }> = Simplify<
  & {
    -readonly [K in keyof S["fields"] as K extends RequiredKeys<S> ? K : never]: Infer<
      S["fields"][K]
    >;
  }
  & {
    -readonly [
      K in keyof S["fields"] as K extends RequiredKeys<S> ? never
        : AlwaysPresent<S["fields"][K]> extends true ? K
        : never
    ]: Infer<S["fields"][K]>;
  }
  & {
    -readonly [
      K in keyof S["fields"] as K extends RequiredKeys<S> ? never
        : AlwaysPresent<S["fields"][K]> extends true ? never
        : K
    ]?: Infer<S["fields"][K]>;
  }
>;

/**
 * The TypeScript type of a value that passed {@link validate} against `S` (declared
 * `as const satisfies Schema`): defaults filled, enums as unions, required fields required.
 */
export type Infer<S> = Schema extends S ? unknown // a schema built at run time: no static type
  : S extends { type: "boolean" } ? boolean
  : S extends { type: "integer" | "number" } ? number
  : S extends { type: "string"; enum: readonly (infer E)[] } ? E
  : S extends { type: "string" } ? string
  : S extends { type: "array"; items: infer I } ? Infer<I>[]
  : S extends { type: "object"; fields: Readonly<Record<string, Schema>> } ? InferObject<S>
  : S extends { type: "map"; values: infer V } ? Record<string, Infer<V>>
  : S extends { type: "oneOf"; options: readonly (infer O)[] } ? Infer<O>
  : unknown;

/**
 * Every problem of `value` against `schema`, not just the first: for `qts check-config`, which
 * reports all of a file's mistakes in one run. Empty when the value is valid.
 */
export function configProblems(schema: Schema, value: unknown, path: string): ConfigError[] {
  const problems: ConfigError[] = [];
  try {
    validate(schema, value, path, problems);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(error);
  }
  return problems;
}
