import { parse as parseYaml } from "yaml";
import defaultConf from "../../../config/default.conf" with { type: "text" };
import {
  COMPONENT_NAMES,
  COMPONENT_SCHEMAS,
  type ComponentName,
  type DomainConfig,
  isComponentName,
} from "./components.ts";
import { ConfigError, validate } from "./schema.ts";

/** The embedded default.conf text (SPEC §3), carried by the module graph into the binary. */
export const EMBEDDED_DEFAULT_CONF: string = defaultConf;

/** A component's validated object; the caller knows which by its name. */
export type ComponentValue = DomainConfig[ComponentName];

/** Validates one component's object; errors name the component and the field path. */
export function parseComponent(
  name: string,
  value: unknown,
  where: string,
): ComponentValue {
  if (!isComponentName(name)) {
    throw new ConfigError(
      `${where}: ${name}`,
      `unknown component (known: ${COMPONENT_NAMES.join(", ")})`,
    );
  }
  return validate(COMPONENT_SCHEMAS[name], value, `${where}: ${name}`) as ComponentValue;
}

/** Parses text as JSON or YAML (by file extension), naming the file in the error. */
export function parseDocument(text: string, file: string): unknown {
  try {
    return file.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigError(file, `cannot parse: ${(error as Error).message.split("\n")[0]}`, {
      cause: error,
    });
  }
}

/**
 * Reads a document of components (`{component: object, …}`) such as default.conf or a domain
 * file. Every key must be a known component; `partial` documents may leave components out.
 */
export function parseComponents(
  text: string,
  file: string,
): Partial<DomainConfig> {
  const doc = parseDocument(text, file);
  return componentsFromObject(doc, file);
}

/** Like {@linkcode parseComponents} for an already parsed object (the API's JSON body). */
export function componentsFromObject(doc: unknown, where: string): Partial<DomainConfig> {
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new ConfigError(where, "expected an object of components");
  }
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(doc as Record<string, unknown>)) {
    out[name] = parseComponent(name, value, where);
  }
  return out as Partial<DomainConfig>;
}

/**
 * The components a document sets, as written (each checked against its schema, so every error
 * is found now, but kept without the schema's defaults): a layer's own fields, which
 * {@linkcode effectiveComponents} lays over the layer below.
 */
export type RawComponents = Partial<Record<ComponentName, Record<string, unknown>>>;

/** Checks a document of components and keeps what it sets (see {@linkcode RawComponents}). */
export function rawComponents(doc: unknown, where: string): RawComponents {
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new ConfigError(where, "expected an object of components");
  }
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, value] of Object.entries(doc as Record<string, unknown>)) {
    parseComponent(name, value, where);
    out[name] = structuredClone(value as Record<string, unknown>);
  }
  return out as RawComponents;
}

/** Reads a file of components (JSON or YAML) into what it sets. */
export function parseRawComponents(text: string, file: string): RawComponents {
  return rawComponents(parseDocument(text, file), file);
}

/**
 * One component of a layer over the layer below: the fields it sets win, every field it leaves
 * out keeps the lower layer's value (default.conf, then the global file), never a schema
 * constant — so `PUT {"many_uas": {"max_uas": 5}}` keeps `skip_if` and `enabled` as they were.
 */
export function layerComponent(
  name: ComponentName,
  own: Record<string, unknown>,
  below: ComponentValue,
  where: string,
): ComponentValue {
  return parseComponent(name, { ...below, ...own }, where);
}

/** A domain's effective configuration: its own component fields over `base`. */
export function effectiveComponents(
  own: RawComponents,
  base: DomainConfig,
  where = "domain",
): DomainConfig {
  const out: Record<string, unknown> = {};
  for (const name of COMPONENT_NAMES) {
    const mine = own[name];
    out[name] = mine === undefined ? base[name] : layerComponent(name, mine, base[name], where);
  }
  return out as unknown as DomainConfig;
}

/** Fills components missing from `partial` from `base` (whole objects, never deep-merged). */
export function completeComponents(
  partial: Partial<DomainConfig>,
  base: DomainConfig,
): DomainConfig {
  const out: Record<string, unknown> = {};
  for (const name of COMPONENT_NAMES) out[name] = partial[name] ?? base[name];
  return out as unknown as DomainConfig;
}

/** Schema defaults for every component: the floor under default.conf. */
export function schemaDefaults(): DomainConfig {
  const out: Record<string, unknown> = {};
  for (const name of COMPONENT_NAMES) out[name] = validate(COMPONENT_SCHEMAS[name], {}, name);
  return out as unknown as DomainConfig;
}

/** Parses a default.conf text into a complete configuration. */
export function parseDefaultConf(text: string, file: string): DomainConfig {
  return completeComponents(parseComponents(text, file), schemaDefaults());
}
