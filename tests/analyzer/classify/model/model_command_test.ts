import assert from "node:assert/strict";
import { modelCommand } from "../../../../src/commands/model_command.ts";
import { syntheticArff, syntheticRows } from "./_synthetic.ts";

async function capture(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const { log, error } = console;
  console.log = (...parts: unknown[]) => out.push(parts.join(" "));
  console.error = (...parts: unknown[]) => err.push(parts.join(" "));
  try {
    const code = await modelCommand(args);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("modelCommand() trains a model file and evaluates it as one JSON object", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = `${dir}/15s-TEST.arff`;
    await Deno.writeTextFile(data, syntheticArff(syntheticRows(120, ["CHAT", "FT", "VOIP"], 1)));
    const train = await capture(["train", "--data", data, "--out", `${dir}/m.json`]);
    assert.equal(train.code, 0, train.err);
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/m.json`));
    assert.equal(saved.format, "qts-traffic-model-set/1");
    assert.equal(saved.models[0].timeout, 15);
    const heldOut = `${dir}/held.arff`;
    await Deno.writeTextFile(heldOut, syntheticArff(syntheticRows(60, ["CHAT", "FT", "VOIP"], 2)));
    const result = await capture(["eval", "--data", heldOut, "--model", `${dir}/m.json`, "--json"]);
    assert.equal(result.code, 0, result.err);
    const report = JSON.parse(result.out);
    assert.deepEqual(Object.keys(report), ["accuracy", "macro_f1", "per_class"]);
    assert.ok(report.macro_f1 > 0.95);
    assert.deepEqual(Object.keys(report.per_class), ["CHAT", "FT", "VOIP"]);
    assert.deepEqual(Object.keys(report.per_class.CHAT), ["precision", "recall", "f1", "support"]);
    assert.equal(report.per_class.CHAT.support, 20);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("modelCommand() eval --cv --baseline rf prints both models per file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = `${dir}/small.arff`;
    await Deno.writeTextFile(data, syntheticArff(syntheticRows(60, ["MAIL", "P2P"], 1)));
    const result = await capture(["eval", "--data", data, "--cv", "3", "--baseline", "rf"]);
    assert.equal(result.code, 0, result.err);
    assert.match(result.out, /small\.arff \(60 rows\), stratified 3-fold CV/);
    assert.match(result.out, /gbdt \(shipped algorithm\)\s+macro-F1 [01]\.\d{4}/);
    assert.match(result.out, /rf-200 baseline\s+macro-F1 [01]\.\d{4}/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("modelCommand() answers --help and rejects bad usage with exit code 2", async () => {
  const help = await capture(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out, /qts model train/);
  assert.equal((await capture(["fly"])).code, 2);
  assert.equal((await capture([])).code, 2);
  assert.equal((await capture(["eval", "--cv", "1"])).code, 2);
  assert.equal((await capture(["eval", "--baseline", "rf"])).code, 2);
  assert.equal((await capture(["train"])).code, 2);
  assert.equal((await capture(["eval", "--bogus"])).code, 2);
});

Deno.test("modelCommand() reports an unreadable data file with exit code 1", async () => {
  const result = await capture(["eval", "--data", "/nonexistent/x.arff", "--model", "builtin"]);
  assert.equal(result.code, 1);
  assert.match(result.err, /Cannot read dataset \/nonexistent\/x\.arff/);
});

Deno.test("modelCommand() eval --unknown reports coverage, ECE and the sweep on held-out folds", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = `${dir}/15s-A.arff`, b = `${dir}/15s-B.arff`;
    await Deno.writeTextFile(a, syntheticArff(syntheticRows(45, ["CHAT", "FT", "MAIL"], 1)));
    await Deno.writeTextFile(b, syntheticArff(syntheticRows(45, ["VPN-CHAT", "VPN-FT"], 2)));
    const text = await capture(["eval", "--unknown", "--cv", "3", a, b]);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /15s-A\.arff \(45 rows\), stratified 3-fold CV of the shipped layout/);
    assert.match(
      text.out,
      /with "unknown"\s+macro-F1 [01]\.\d{4}\s+accuracy [01]\.\d{4}\s+coverage/,
    );
    assert.match(text.out, /ECE [01]\.\d{4} raw → [01]\.\d{4} calibrated/);
    assert.match(text.err, /training the 15s model of fold 3\/3 on 60 rows/);
    const json = await capture(["eval", "--unknown", "--cv", "3", "--json", a, b]);
    assert.equal(json.code, 0, json.err);
    const lines = json.out.split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.file ?? "sweep"), ["15s-A.arff", "15s-B.arff", "sweep"]);
    for (const line of lines.slice(0, 2)) {
      assert.equal(line.threshold, 0.5);
      assert.ok(line.coverage >= 0 && line.coverage <= 1);
      assert.ok(line.open_accuracy <= line.accuracy + 1e-12);
    }
    assert.equal(lines[2].sweep.length, 7);
    assert.equal((await capture(["eval", "--unknown", "--model", "builtin", a])).code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("modelCommand() eval of the built-in model adds its unknown-guard figures", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = `${dir}/15s-SAMPLE.arff`;
    await Deno.writeTextFile(data, syntheticArff(syntheticRows(40, ["CHAT", "FT"], 3)));
    const result = await capture(["eval", "--json", data]);
    assert.equal(result.code, 0, result.err);
    const report = JSON.parse(result.out);
    assert.deepEqual(Object.keys(report.unknown_guard), [
      "threshold",
      "coverage",
      "accuracy",
      "macro_f1",
      "covered_accuracy",
      "covered_macro_f1",
    ]);
    assert.ok(report.unknown_guard.coverage >= 0 && report.unknown_guard.coverage <= 1);
    const text = await capture(["eval", data]);
    assert.match(text.out, /with "unknown" below 0\.5: coverage [01]\.\d{4}/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
