import { createRng } from "../../../../src/analyzer/classify/model/_rng.ts";
import { ISCX_FEATURE_NAMES } from "../../../_support/seed.ts";

/**
 * A separable synthetic ISCX-shaped table: class c has duration ≈ (c+1)·1e6 µs and packet rate
 * ≈ 10·(c+1)/s, other columns noise. Returns raw 23-column rows.
 */
export function syntheticRows(rows: number, classes: string[], seed = 3) {
  const rng = createRng(seed);
  const x = new Float64Array(rows * 23);
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const c = r % classes.length;
    y[r] = c;
    for (let f = 0; f < 23; f++) x[r * 23 + f] = rng.next() * 1000;
    x[r * 23] = (c + 1) * 1e6 + rng.next() * 2e5;
    x[r * 23 + 9] = 10 * (c + 1) + rng.next();
    x[r * 23 + 13] = x[r * 23]! / 20;
  }
  return { x, y, rows, classes };
}

/** The same rows as ARFF text with the published files' trailing commas. */
export function syntheticArff(data: ReturnType<typeof syntheticRows>): string {
  const names = ISCX_FEATURE_NAMES;
  const pad = ",".repeat(23);
  const lines = [`@RELATION <ISCXFlowMeter-generated-flows>${pad}`, pad];
  for (const name of names) lines.push(`@ATTRIBUTE ${name} NUMERIC${pad}`);
  lines.push(`@ATTRIBUTE class1 {${data.classes.join(",")}},,,,,,,,,,,,,,,,,`);
  lines.push(`@DATA${pad}`);
  for (let r = 0; r < data.rows; r++) {
    const row = Array.from(data.x.subarray(r * 23, r * 23 + 23), (v) => String(v));
    lines.push(`${row.join(",")},${data.classes[data.y[r]!]}`);
  }
  return lines.join("\r\n") + "\r\n";
}
