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
