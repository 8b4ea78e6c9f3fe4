import { createRng } from "../../../src/classify/model/_rng.ts";

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
  const names = [
    "duration",
    "total_fiat",
    "total_biat",
    "min_fiat",
    "min_biat",
    "max_fiat",
    "max_biat",
    "mean_fiat",
    "mean_biat",
    "flowPktsPerSecond",
    "flowBytesPerSecond",
    "min_flowiat",
    "max_flowiat",
    "mean_flowiat",
    "std_flowiat",
    "min_active",
    "mean_active",
    "max_active",
    "std_active",
    "min_idle",
    "mean_idle",
    "max_idle",
    "std_idle",
  ];
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
