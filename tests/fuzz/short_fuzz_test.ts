/**
 * The CI version of `deno task fuzz`: every target in-process for a short, fixed-seed run. A
 * failure names the seed and input index; `deno task fuzz --target T --seed S` reproduces it.
 */
import assert from "node:assert/strict";
import { runTarget } from "../../scripts/fuzz/run_target.ts";
import { type TargetName, targets } from "../../scripts/fuzz/targets.ts";
import { createRng } from "../../scripts/fuzz/_random.ts";

const SEED = 17;
const COUNTS: Record<TargetName, number> = {
  wire: 20_000,
  zmtp: 5_000,
  pcap: 3_000,
  config: 1_500,
  http: 20_000,
  proxy: 20_000,
};

for (const name of Object.keys(COUNTS) as TargetName[]) {
  Deno.test(`fuzz target ${name} keeps its properties for ${COUNTS[name]} inputs (seed ${SEED})`, async () => {
    const target = targets(name, { loopbackInputs: 40 });
    try {
      const result = await runTarget(target, { seed: SEED, count: COUNTS[name] });
      if (result.failure) {
        const { index, input, error } = result.failure;
        const hex = Array.from(input.subarray(0, 256), (b) => b.toString(16).padStart(2, "0"))
          .join("");
        throw new Error(
          `${name} input ${index} (seed ${SEED}, ${input.length} bytes) failed; hex prefix ${hex}`,
          { cause: error },
        );
      }
      assert.equal(result.inputs, COUNTS[name]);
      await target.finish?.(createRng(SEED));
    } finally {
      await target.close?.();
    }
  });
}
