import assert from "node:assert/strict";
import {
  emptyRecord,
  encodeHeader,
  encodeRecord,
  type HttpRecord,
} from "../../../src/sensor/wire/mod.ts";
import { domainsFixture } from "./_domains_fixture.ts";

/** The four `remote_addr` values of issue 17.4 that were published as `add`. */
const HOSTILE_ADDRS = ["not-an-ip", "1.2.3.4; nft flush ruleset", "10.0.0.1\n", "::"];

/** A request the default chain turns into an event (lua deny_bad_method), from `remote_addr`. */
function probe(remote_addr: string, i: number): HttpRecord {
  return {
    ...emptyRecord(),
    timestamp: 1_700_000_000,
    method: "TRACE",
    url: "/",
    host: "example.com",
    http_user_agent: "scanner",
    qrator_request_id: `r${i}`,
    remote_addr,
  };
}

Deno.test("Pipeline.handleFrames() drops hostile remote_addr values as bad_remote_addr (issue 17.4)", async () => {
  const f = await domainsFixture();
  try {
    let i = 0;
    for (const addr of HOSTILE_ADDRS) {
      await f.pipeline.handleFrames([encodeHeader(8984), encodeRecord(probe(addr, i++))]);
    }
    // The same request from a real address reaches the list manager: the drops are not a no-op.
    await f.pipeline.handleFrames([encodeHeader(8984), encodeRecord(probe("198.51.100.9", i++))]);
    f.pipeline.tick();
    assert.equal(f.metrics.get("qts_input_dropped_total", { reason: "bad_remote_addr" }), 4);
    assert.deepEqual(f.toLm.map(([, ip]) => ip), ["198.51.100.9"]);
    assert.deepEqual(f.commands.filter((c) => HOSTILE_ADDRS.includes(c.ip)), []);
    for (const addr of HOSTILE_ADDRS) {
      assert.equal(f.lm.banDetails(addr).length, 0, JSON.stringify(addr));
    }
  } finally {
    await f.close();
  }
});

Deno.test("Pipeline.handleRecord() checks the remote_addr of a plain record too", async () => {
  const f = await domainsFixture();
  try {
    let i = 0;
    for (const addr of HOSTILE_ADDRS) await f.pipeline.handleRecord(8984, probe(addr, i++));
    assert.equal(f.metrics.get("qts_input_dropped_total", { reason: "bad_remote_addr" }), 4);
    assert.equal(f.toLm.length, 0);
    await f.pipeline.handleRecord(8984, probe("2001:0DB8:0:0:0:0:0:00A1", i++));
    assert.deepEqual(f.toLm.map(([, ip]) => ip), ["2001:db8::a1"]);
  } finally {
    await f.close();
  }
});

Deno.test("Pipeline reaches the list manager with an unusually spelled IPv6 address normalised", async () => {
  const f = await domainsFixture();
  try {
    const body = encodeRecord(probe("2001:0DB8:0000:0000:0000:0000:0000:0001", 1));
    await f.pipeline.handleFrames([encodeHeader(8984), body]);
    assert.deepEqual(f.toLm, [[8984, "2001:db8::1", ["lua_bad_method"]]]);
    assert.equal(f.metrics.get("qts_input_dropped_total", { reason: "bad_remote_addr" }), 0);
  } finally {
    await f.close();
  }
});
