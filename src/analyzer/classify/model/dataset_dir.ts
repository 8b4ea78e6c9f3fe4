import { fileURLToPath } from "node:url";

/** The four published ISCX files, in the order reports list them. */
export const datasetFiles: readonly string[] = Object.freeze([
  "15s-NO-VPN.arff",
  "15s-VPN.arff",
  "120s-NO-VPN.arff",
  "120s-VPN.arff",
]);

/**
 * Where the shared ISCX time-feature files live: `../shared/datasets/iscx-vpn2016-time/` beside
 * the repository root (CI clones the repo next to `shared/`), found from this module's location
 * and, for a compiled binary, from the working directory.
 */
export function datasetDir(): string {
  const candidates: string[] = [];
  if (import.meta.url.startsWith("file:")) {
    candidates.push(
      fileURLToPath(new URL("../../../../../shared/datasets/iscx-vpn2016-time/", import.meta.url)),
    );
  }
  candidates.push(`${Deno.cwd()}/../shared/datasets/iscx-vpn2016-time/`);
  candidates.push(`${Deno.cwd()}/shared/datasets/iscx-vpn2016-time/`);
  for (const dir of candidates) {
    try {
      if (Deno.statSync(dir).isDirectory) return dir;
    } catch {
      // Try the next place.
    }
  }
  return candidates[0]!;
}
