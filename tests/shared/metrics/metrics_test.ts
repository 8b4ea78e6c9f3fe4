import assert from "node:assert/strict";
import { Metrics } from "../../../src/shared/metrics/metrics.ts";

Deno.test("Metrics.observe() renders a Prometheus histogram: cumulative buckets, +Inf, sum, count", () => {
  const m = new Metrics();
  for (const v of [0.5, 3, 3, 40]) {
    m.observe("qts_time_to_ban_seconds", "Time to ban", { rule_name: "r" }, v, [1, 5, 30]);
  }
  const text = m.render();
  assert.match(text, /^# TYPE qts_time_to_ban_seconds histogram$/m);
  for (
    const line of [
      'qts_time_to_ban_seconds_bucket{rule_name="r",le="1"} 1',
      'qts_time_to_ban_seconds_bucket{rule_name="r",le="5"} 3',
      'qts_time_to_ban_seconds_bucket{rule_name="r",le="30"} 3',
      'qts_time_to_ban_seconds_bucket{rule_name="r",le="+Inf"} 4',
      'qts_time_to_ban_seconds_sum{rule_name="r"} 46.5',
      'qts_time_to_ban_seconds_count{rule_name="r"} 4',
    ]
  ) {
    assert.ok(text.split("\n").includes(line), line);
  }
});
