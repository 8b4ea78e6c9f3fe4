/**
 * Label groups for `GET /labels/list`: read from a `labels.yaml` (config/labels.yaml) when one is
 * given, else the seed's groups. Accepted shapes: `{groups: {name: [label…]}}`, `{name: [label…]}`
 * or a list of `{group_name, labels}`.
 */
import { parse } from "yaml";

/** One entry of `GET /labels/list`, as the seed names it. */
export interface LabelGroup {
  group_name: string;
  labels: string[];
}

/** The seed's example groups (its third group is misnamed "peer2peer" there; "vpn" here). */
export const defaultLabelGroups: readonly LabelGroup[] = Object.freeze([
  { group_name: "social", labels: ["facebook", "vk"] },
  { group_name: "peer2peer", labels: ["bittorrent", "skype"] },
  { group_name: "vpn", labels: ["vpn", "socks5"] },
  { group_name: "other", labels: ["ssh", "telnet", "ftp", "http", "tls", "dns"] },
]);

function labelList(value: unknown, where: string): string[] {
  if (!Array.isArray(value)) throw new TypeError(`${where}: labels must be a list`);
  return value.map((v, i) => {
    if (typeof v === "string" && v !== "") return v;
    if (v !== null && typeof v === "object" && typeof (v as { name?: unknown }).name === "string") {
      return (v as { name: string }).name;
    }
    throw new TypeError(`${where}: label ${i} is not a non-empty string`);
  });
}

/** Parses the text of a labels file; `source` names it in errors. */
export function parseLabelGroups(text: string, source: string): LabelGroup[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (cause) {
    throw new SyntaxError(`Cannot parse label groups "${source}": ${(cause as Error).message}`, {
      cause,
    });
  }
  if (doc !== null && typeof doc === "object" && !Array.isArray(doc) && "groups" in doc) {
    doc = (doc as { groups: unknown }).groups;
  }
  if (Array.isArray(doc)) {
    return doc.map((g, i) => {
      const o = g as { group_name?: unknown; name?: unknown; labels?: unknown } | null;
      const name = o?.group_name ?? o?.name;
      if (typeof name !== "string" || name === "") {
        throw new TypeError(`Cannot load label groups "${source}": group ${i} has no name`);
      }
      return {
        group_name: name,
        labels: labelList(o?.labels, `Cannot load label groups "${source}", group "${name}"`),
      };
    });
  }
  if (doc !== null && typeof doc === "object") {
    return Object.entries(doc as Record<string, unknown>).map(([name, v]) => {
      const labels = v !== null && typeof v === "object" && !Array.isArray(v) && "labels" in v
        ? (v as { labels: unknown }).labels
        : v;
      return {
        group_name: name,
        labels: labelList(labels, `Cannot load label groups "${source}", group "${name}"`),
      };
    });
  }
  throw new TypeError(`Cannot load label groups "${source}": expected a mapping or a list`);
}

/** Reads label groups from `path`; without a path, the seed's groups. */
export async function loadLabelGroups(path?: string): Promise<LabelGroup[]> {
  if (path === undefined) return defaultLabelGroups.map((g) => ({ ...g, labels: [...g.labels] }));
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    throw new Error(`Cannot read label groups "${path}": ${(cause as Error).message}`, { cause });
  }
  return parseLabelGroups(text, path);
}
