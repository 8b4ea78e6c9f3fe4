import assert from "node:assert/strict";

const dir = new URL("../../../../src/analyzer/classify/model/", import.meta.url);

interface StoredCv {
  modelSha256: string;
  folds: number;
  files: Record<string, { macroF1: number; accuracy: number }>;
}

async function sha256(url: URL): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(url));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("iscx_model_cv.json holds the CV figures of the shipped model file", async () => {
  const cv: StoredCv = JSON.parse(await Deno.readTextFile(new URL("iscx_model_cv.json", dir)));
  assert.equal(
    await sha256(new URL("iscx_model.json", dir)),
    cv.modelSha256,
    "iscx_model.json changed: rerun `qts model eval --cv 5 --json` and update iscx_model_cv.json",
  );
  assert.deepEqual(Object.keys(cv.files), [
    "15s-NO-VPN.arff",
    "15s-VPN.arff",
    "120s-NO-VPN.arff",
    "120s-VPN.arff",
  ]);
  // The README's table quotes the same run.
  const readme = await Deno.readTextFile(new URL("README.md", dir));
  for (const [file, { macroF1, accuracy }] of Object.entries(cv.files)) {
    const name = file.replace(".arff", "");
    const row = new RegExp(`\\| ${name} +\\| ([0-9.]+) / ([0-9.]+) `).exec(readme);
    assert.ok(row, `README row for ${name}`);
    assert.equal(row[1], macroF1.toFixed(4), `${name} macro-F1`);
    assert.equal(row[2], accuracy.toFixed(4), `${name} accuracy`);
  }
});
