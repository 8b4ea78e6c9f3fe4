import attackPatterns from "../../../config/detection/attack_patterns.txt" with { type: "text" };
import crawlers from "../../../config/detection/crawlers.txt" with { type: "text" };
import scannerUserAgents from "../../../config/detection/scanner_user_agents.txt" with {
  type: "text",
};
import sensitiveFiles from "../../../config/detection/sensitive_files.txt" with { type: "text" };
import sensitivePaths from "../../../config/detection/sensitive_paths.txt" with { type: "text" };
import wordpressPaths from "../../../config/detection/wordpress_paths.txt" with { type: "text" };
import { LiteralSet } from "../../shared/text/literal_set.ts";
import type { FilterDeps } from "./types.ts";

/** The detection data files shipped in the binary (config/detection/), by file name. */
export const EMBEDDED_LISTS: Readonly<Record<string, string>> = {
  "attack_patterns.txt": attackPatterns,
  "crawlers.txt": crawlers,
  "scanner_user_agents.txt": scannerUserAgents,
  "sensitive_files.txt": sensitiveFiles,
  "sensitive_paths.txt": sensitivePaths,
  "wordpress_paths.txt": wordpressPaths,
};

/** The entries of a list text: one a line, `#` comments and blank lines dropped, trimmed. */
export function listEntries(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    out.push(line);
  }
  return out;
}

/**
 * A detection list by file name: the file of that name in components_config_dir when there is
 * one (it replaces the embedded copy, as default.conf does), else the embedded one.
 */
export async function loadList(file: string, deps: FilterDeps, owner: string): Promise<string[]> {
  if (deps.readFile) {
    try {
      return listEntries(await deps.readFile(file));
    } catch (error) {
      const notFound = error instanceof Deno.errors.NotFound ||
        (error as { code?: string })?.code === "ENOENT";
      if (!notFound) {
        throw new TypeError(`Cannot build ${owner}: cannot read "${file}": ${error}`, {
          cause: error,
        });
      }
    }
  }
  const embedded = EMBEDDED_LISTS[file];
  if (embedded === undefined) {
    throw new TypeError(
      `Cannot build ${owner}: list "${file}" is neither in components_config_dir nor embedded`,
    );
  }
  return listEntries(embedded);
}

function escape(entry: string): string {
  return entry.toLowerCase().replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/**
 * A case-insensitive matcher of any of `entries` as a literal substring (undefined for none):
 * one pass over the text whatever the number of entries.
 */
export function literalSet(entries: readonly string[]): LiteralSet | undefined {
  return entries.length === 0 ? undefined : LiteralSet.of(entries);
}

/**
 * A case-insensitive regex for path lists: an entry ending in a letter or digit names a
 * directory or endpoint and matches only before a "/" or as the whole path, so
 * "/phpmyadmin" finds "/phpmyadmin/index.php" but not "/questions/tagged/phpmyadmin".
 */
export function pathPattern(entries: readonly string[]): RegExp | undefined {
  if (entries.length === 0) return undefined;
  const open: string[] = [];
  const named: string[] = [];
  for (const entry of entries) (/[a-z0-9]$/i.test(entry) ? named : open).push(escape(entry));
  const parts = [...open];
  if (named.length > 0) parts.push(`^(?:${named.join("|")})$`, `(?:${named.join("|")})/`);
  return new RegExp(parts.join("|"), "i");
}
