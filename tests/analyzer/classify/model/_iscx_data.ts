import { datasetDir, datasetFiles } from "../../../../src/analyzer/classify/model/dataset_dir.ts";

/** Where the shared ISCX files are, and whether all four are there (tests that need them skip
 * with a printed reason otherwise). */
export function iscxData(what: string): { dir: string; have: boolean } {
  const dir = datasetDir();
  const have = datasetFiles.every((file) => {
    try {
      return Deno.statSync(`${dir}${file}`).isFile;
    } catch {
      return false;
    }
  });
  if (!have) console.warn(`skipping ${what}: no dataset in ${dir}`);
  return { dir, have };
}
