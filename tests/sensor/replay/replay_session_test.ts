import assert from "node:assert/strict";
import { baseRecord, setClient, setTime } from "../../../src/sensor/replay/expand_requests.ts";
import { ReplaySession } from "../../../src/sensor/replay/replay_session.ts";

Deno.test("ReplaySession is offline: a claimed crawler stays unverified, no DNS lookup is made", async () => {
  const session = await ReplaySession.start({
    config: { settings: {}, components: {}, files: {}, domains: new Map() },
  });
  try {
    for (let i = 0; i < 3; i++) {
      const r = baseRecord();
      setClient(r, "66.249.66.1");
      setTime(r, 1_700_000_000 + i);
      r.http_user_agent =
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
      await session.send(8984, r);
    }
    assert.deepEqual(await session.drain(), []);
    const filters = session.sensor.runner.stats().domains["8984"]?.filters ?? {};
    assert.equal(filters["trusted_sources.unknown"], 3, "every claim unverified");
    assert.equal(filters["trusted_sources.lookups"], 0, "and no lookup left the process");
  } finally {
    await session.close();
  }
});
