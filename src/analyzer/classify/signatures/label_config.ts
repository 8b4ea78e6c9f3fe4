import { parse } from "yaml";
import shipped from "../../../../config/labels.yaml" with { type: "text" };
import type { SignatureProtocol } from "./signature_match.ts";

/** One label group as `GET /labels/list` returns it. */
export interface LabelGroup {
  group_name: string;
  labels: string[];
}

/** Parsed `config/labels.yaml`: label groups, domain → application label, protocol labels. */
export interface LabelConfig {
  groups: LabelGroup[];
  /** Application label of a host name (itself or a parent domain listed), or undefined. */
  labelForDomain(domain: string): string | undefined;
  /** Label of a flow recognised by `protocol` whose domain names no application. */
  labelForProtocol(protocol: SignatureProtocol): string;
  /** Group of a label, or undefined when no group lists it. */
  groupOf(label: string): string | undefined;
  /** Every label the configuration can give or lists (groups, domains, protocols), sorted. */
  allLabels(): string[];
}

const LABEL = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$/;

function stringList(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string" || v === "")) {
    throw new TypeError(`${where}: expected a list of non-empty strings`);
  }
  return value as string[];
}

/**
 * Parses and validates the label configuration (YAML text of `config/labels.yaml`'s shape).
 * Errors name the source and the field.
 */
export function labelConfig(text: string, source = "labels.yaml"): LabelConfig {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (error) {
    throw new SyntaxError(`Cannot parse ${source}: ${(error as Error).message}`, { cause: error });
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw new TypeError(
      `Cannot load ${source}: expected a mapping with groups, domains, protocols`,
    );
  }
  const root = doc as Record<string, unknown>;
  for (const key of Object.keys(root)) {
    if (!["groups", "domains", "protocols"].includes(key)) {
      throw new TypeError(`Cannot load ${source}: unknown key "${key}"`);
    }
  }
  const groups: LabelGroup[] = [];
  const groupOf = new Map<string, string>();
  if (root.groups !== undefined) {
    if (!Array.isArray(root.groups)) {
      throw new TypeError(`Cannot load ${source}: groups: expected a list`);
    }
    root.groups.forEach((g: unknown, i: number) => {
      const where = `Cannot load ${source}: groups[${i}]`;
      if (g === null || typeof g !== "object") throw new TypeError(`${where}: expected a mapping`);
      const { group_name: name, labels } = g as Record<string, unknown>;
      if (typeof name !== "string" || name === "") {
        throw new TypeError(`${where}: group_name must be a non-empty string`);
      }
      const list = stringList(labels, `${where}.labels`);
      for (const l of list) {
        if (!LABEL.test(l)) throw new TypeError(`${where}.labels: invalid label "${l}"`);
        if (!groupOf.has(l)) groupOf.set(l, name);
      }
      groups.push({ group_name: name, labels: [...list] });
    });
  }
  const suffixes = new Map<string, string>();
  if (root.domains !== undefined) {
    if (root.domains === null || typeof root.domains !== "object" || Array.isArray(root.domains)) {
      throw new TypeError(`Cannot load ${source}: domains: expected a mapping label -> [domain…]`);
    }
    for (const [label, list] of Object.entries(root.domains as Record<string, unknown>)) {
      if (!LABEL.test(label)) {
        throw new TypeError(`Cannot load ${source}: domains: invalid label "${label}"`);
      }
      for (const d of stringList(list, `Cannot load ${source}: domains.${label}`)) {
        const domain = d.toLowerCase().replace(/^\*?\./, "").replace(/\.$/, "");
        const other = suffixes.get(domain);
        if (other !== undefined && other !== label) {
          throw new TypeError(
            `Cannot load ${source}: domains: "${domain}" is listed under "${other}" and "${label}"`,
          );
        }
        suffixes.set(domain, label);
      }
    }
  }
  const protocols = new Map<string, string>();
  if (root.protocols !== undefined) {
    if (root.protocols === null || typeof root.protocols !== "object") {
      throw new TypeError(`Cannot load ${source}: protocols: expected a mapping protocol -> label`);
    }
    for (const [protocol, label] of Object.entries(root.protocols as Record<string, unknown>)) {
      if (typeof label !== "string" || !LABEL.test(label)) {
        throw new TypeError(`Cannot load ${source}: protocols.${protocol}: invalid label`);
      }
      protocols.set(protocol, label);
    }
  }
  return {
    groups,
    labelForDomain(domain: string): string | undefined {
      let d = domain.toLowerCase();
      for (let n = 0; n < 128; n++) {
        const label = suffixes.get(d);
        if (label !== undefined) return label;
        const dot = d.indexOf(".");
        if (dot < 0) return undefined;
        d = d.slice(dot + 1);
      }
      return undefined;
    },
    labelForProtocol(protocol: SignatureProtocol): string {
      return protocols.get(protocol) ?? protocol;
    },
    groupOf(label: string): string | undefined {
      return groupOf.get(label);
    },
    allLabels(): string[] {
      const all = new Set([...groupOf.keys(), ...suffixes.values(), ...protocols.values()]);
      return [...all].sort();
    },
  };
}

let builtin: LabelConfig | undefined;

/** The label configuration embedded in the binary (`config/labels.yaml`). */
export function builtinLabelConfig(): LabelConfig {
  builtin ??= labelConfig(shipped, "config/labels.yaml");
  return builtin;
}
