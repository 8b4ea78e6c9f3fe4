import assert from "node:assert/strict";
import { ipKey, IpSlots, sourceTextKey } from "../../../src/sensor/filters/_ip_slots.ts";
import { seededRandom } from "../../_support/random.ts";
import { rec } from "./_filter_ctx.ts";

Deno.test("IpSlots agrees with a Map under random insert/remove churn and growth", () => {
  const random = seededRandom(42);
  let grows = 0;
  const slots = new IpSlots(() => grows++, 16);
  const model = new Map<string, number>();
  const tag = new Map<number, string>();
  for (let step = 0; step < 50_000; step++) {
    const hi = random() < 0.3 ? 1 + Math.floor(random() * 3) : 0;
    const lo = Math.floor(random() * 3000);
    const k = `${hi}:${lo}`;
    const e = slots.find(hi, lo);
    assert.equal(e >= 0, model.has(k), `step ${step} key ${k}`);
    if (e >= 0) {
      assert.equal(tag.get(e), k);
      if (random() < 0.5) {
        slots.remove(e);
        model.delete(k);
        tag.delete(e);
      }
    } else {
      const n = slots.insert(hi, lo);
      assert.ok(!tag.has(n), "a live entry number is never handed out twice");
      model.set(k, n);
      tag.set(n, k);
    }
    assert.equal(slots.size, model.size);
  }
  assert.ok(grows > 1);
});

Deno.test("ipKey() is exact for IPv4 from remote_ip or remote_addr and separates IPv6", () => {
  const a = [...ipKey(rec({ ip: "1.2.3.4" }), "1.2.3.4")];
  const b = [...ipKey({ ...rec({ ip: "9.9.9.9" }), remote_addr: "1.2.3.4" }, "1.2.3.4")];
  assert.deepEqual(a, [0, 0x01020304]);
  assert.deepEqual(b, a);
  const v6 = [...ipKey(rec({ ip: "2001:db8::1" }), "2001:db8::1")];
  assert.notEqual(v6[0], 0);
  assert.notDeepEqual(v6, [...ipKey(rec({ ip: "2001:db8::2" }), "2001:db8::2")]);
});

Deno.test("sourceTextKey() gives each (source, User-Agent) pair its own key, the same each time", () => {
  const seen = new Map<string, string>();
  const uas = Array.from(
    { length: 300 },
    (_, i) => `Mozilla/5.0 (X11; Linux x86_64) Chrome/${i}.0`,
  );
  for (let ip = 0; ip < 1000; ip++) {
    for (const [j, ua] of uas.entries()) {
      if ((ip * 7 + j) % 5 !== 0) continue; // 60k pairs, swaps of ip and UA among them
      const [hi, lo] = sourceTextKey(0, 0x0b000000 + ip, ua);
      const key = `${hi}:${lo}`;
      const pair = `${ip}|${ua}`;
      assert.equal(seen.get(key) ?? pair, pair, `${pair} collides with ${seen.get(key)}`);
      seen.set(key, pair);
      assert.deepEqual([...sourceTextKey(0, 0x0b000000 + ip, ua)], [hi, lo]);
    }
  }
  assert.equal(seen.size, 60_000);
  // The source's high word counts too: an IPv6 /64 and an IPv4 address with the same low word.
  assert.notDeepEqual([...sourceTextKey(1, 5, "x")], [...sourceTextKey(0, 5, "x")]);
});
