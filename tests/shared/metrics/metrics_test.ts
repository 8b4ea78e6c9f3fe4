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

Deno.test("Metrics.remove() drops one series of a counter, gauge or histogram", () => {
  const m = new Metrics();
  const seven = m.counter("qts_records_total", "Records", { domain: 7 });
  seven.value += 3;
  m.inc("qts_records_total", "Records", { domain: 8 });
  m.set("qts_gauge", "A gauge", { domain: 7 }, 1);
  m.observe("qts_seconds", "A histogram", { domain: 7 }, 0.5, [1]);
  assert.equal(m.remove("qts_records_total", { domain: 7 }), true);
  assert.equal(m.remove("qts_records_total", { domain: 7 }), false, "already gone");
  assert.equal(m.remove("qts_gauge", { domain: 7 }), true);
  assert.equal(m.remove("qts_seconds", { domain: 7 }), true);
  assert.equal(m.remove("qts_unknown", {}), false);
  const text = m.render();
  assert.ok(!text.includes('domain="7"'), text);
  assert.ok(text.includes('qts_records_total{domain="8"} 1'), text);
  // The series starts over when used again; the old handle no longer counts.
  seven.value++;
  m.counter("qts_records_total", "Records", { domain: 7 }).value++;
  assert.equal(m.get("qts_records_total", { domain: 7 }), 1);
});
