import assert from "node:assert/strict";
import type { Decision } from "../../../src/sensor/ingest/chain_runner.ts";
import { DecisionPacker, PackedDecisions } from "../../../src/sensor/ingest/_worker_protocol.ts";

const UA = 'Mozilla/5.0 (X11; Linux x86_64) "quoted" \\ back\nslash ünï 🦀';

function decisions(): Decision[] {
  return [
    {
      domainId: 8984,
      ip: "198.51.100.7",
      events: ["loc_rate_def1_GET/"],
      flags: [],
      worker: 2,
      now: 1_700_000_000_123.5,
      tag: 17,
      sample: { method: "GET", host: "example.com", url: '/a?b="c"', status: 0, ua: UA },
    },
    {
      domainId: 1,
      ip: "2001:db8::1",
      events: ["status_probing", "probe_path", "lua:deny.x"],
      flags: ["private_source", "whitelisted"],
      worker: 2,
      now: 1_700_000_000_124,
      tag: 2 ** 40,
    },
    {
      domainId: 8984,
      ip: "198.51.100.7",
      events: ["loc_rate_def1_GET/"],
      flags: [],
      worker: 2,
      now: 1_700_000_000_125,
      tag: 2 ** 40 + 1,
      sample: { method: "POST", host: "example.com", url: "/login", status: 404, ua: UA },
    },
  ];
}

Deno.test("worker decisions come back as they were sent, in order, each string once", () => {
  const packer = new DecisionPacker();
  assert.equal(packer.take(), "", "no decisions: no text");
  const sent = decisions();
  for (const d of sent) packer.add(d);
  const text = packer.take();
  assert.equal(text.split("example.com").length - 1, 1, "a repeated host is written once");
  assert.equal(text.split("Mozilla").length - 1, 1, "a repeated User-Agent is written once");
  const packed = new PackedDecisions(text);
  const got: Decision[] = [];
  for (const d of sent) {
    assert.equal(packed.seq, d.tag);
    got.push(packed.next(2));
  }
  assert.equal(packed.seq, Infinity);
  assert.deepEqual(got, sent.map(({ tag: _tag, ...d }) => d));
  assert.equal(packer.take(), "", "take() starts over");
});

Deno.test("a packer starts each batch with a new string table", () => {
  const packer = new DecisionPacker();
  const [first, second] = decisions();
  packer.add(first!);
  packer.take();
  packer.add(second!);
  const packed = new PackedDecisions(packer.take());
  const { tag: _tag, ...expected } = second!;
  assert.deepEqual(packed.next(2), expected);
});
