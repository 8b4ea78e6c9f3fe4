import assert from "node:assert/strict";
import { parseDataset } from "../../../../src/analyzer/classify/model/parse_dataset.ts";
import { syntheticArff, syntheticRows } from "./_synthetic.ts";
import { ISCX_FEATURE_NAMES } from "../../../_support/seed.ts";

Deno.test("parseDataset() loads ARFF with the published trailing commas", () => {
  const data = syntheticRows(12, ["BROWSING", "CHAT", "VOIP"]);
  const parsed = parseDataset(syntheticArff(data), "synthetic.arff");
  assert.equal(parsed.rows, 12);
  assert.deepEqual(parsed.classes, ["BROWSING", "CHAT", "VOIP"]);
  assert.deepEqual([...parsed.y], [...data.y]);
  assert.deepEqual([...parsed.x], [...data.x]);
});

Deno.test("parseDataset() keeps the declared class order even when a class has no rows", () => {
  const text = [
    "@RELATION r,,,",
    // The published files: trailing commas on some header lines, none on others.
    ...ISCX_FEATURE_NAMES.map((n, i) => `@ATTRIBUTE ${n} NUMERIC${i < 7 ? ",," : ""}`),
    "@ATTRIBUTE class1 {VPN-MAIL,VPN-FT},,,,",
    "@DATA,,,,",
    `${Array(23).fill("1").join(",")},VPN-FT`,
  ].join("\n");
  const parsed = parseDataset(text, "one.arff");
  assert.deepEqual(parsed.classes, ["VPN-MAIL", "VPN-FT"]);
  assert.deepEqual([...parsed.y], [1]);
});

Deno.test("parseDataset() maps CSV columns by name, accepting the seed's flat/blat spelling", () => {
  const names = [
    "label",
    "std_idle",
    "duration",
    "total_flat",
    "total_blat",
    "min_flat",
    "min_blat",
    "max_flat",
    "max_blat",
    "mean_flat",
    "mean_blat",
    "flowPktsPerSecond",
    "flowBytesPerSecond",
    "min_flowlat",
    "max_flowlat",
    "mean_flowlat",
    "std_flowlat",
    "min_active",
    "mean_active",
    "max_active",
    "std_active",
    "min_idle",
    "mean_idle",
    "max_idle",
  ];
  const row = names.map((_, i) => (i === 0 ? "CHAT" : String(i)));
  const parsed = parseDataset(`${names.join(",")}\n${row.join(",")}\n`, "flows.csv");
  assert.deepEqual(parsed.classes, ["CHAT"]);
  assert.equal(parsed.x[0], 2); // duration is the third CSV column
  assert.equal(parsed.x[22], 1); // std_idle is the second
});

Deno.test("parseDataset() rejects a non-numeric feature naming file and line", () => {
  const data = syntheticRows(2, ["A"]);
  const text = syntheticArff(data).replace(/\r\n([0-9.]+),/, "\r\nfast,");
  assert.throws(() => parseDataset(text, "bad.arff"), (error: unknown) => {
    assert.ok(error instanceof SyntaxError);
    assert.match(error.message, /bad\.arff:28: column 1 is "fast"/);
    return true;
  });
});

Deno.test("parseDataset() rejects a table missing an ISCX column", () => {
  assert.throws(
    () => parseDataset("duration,class\n1,CHAT\n", "short.csv"),
    /column "total_fiat" is missing/,
  );
});

Deno.test("parseDataset() skips rows without a label", () => {
  const data = syntheticRows(3, ["CHAT"]);
  const lines = syntheticArff(data).split("\r\n");
  const last = lines.length - 2;
  lines[last] = lines[last]!.replace(/,CHAT$/, ",");
  const parsed = parseDataset(lines.join("\n"), "partly-labelled.arff");
  assert.equal(parsed.rows, 2);
});
