import assert from "node:assert/strict";
import { join } from "node:path";
import type { DomainConfig } from "../../../src/shared/config/components.ts";
import type { ChainRunner } from "../../../src/sensor/ingest/chain_runner.ts";
import { apiFixture, DOMAIN, domainObject } from "./_api_fixture.ts";

const IP = "192.0.2.1";

/** Requests from IP with three distinct User-Agents: many_uas (max_uas 3) is one short. */
async function threeAgents(f: Awaited<ReturnType<typeof apiFixture>>): Promise<void> {
  for (const ua of ["A/1", "B/1", "C/1"]) await f.feed(IP, { http_user_agent: ua });
}

Deno.test("POST /reload_filters keeps the state of filters whose config did not change", async () => {
  const f = await apiFixture();
  try {
    await threeAgents(f);
    // Another component of the domain changes; many_uas does not.
    await Deno.writeTextFile(
      join(f.filtersDir, `${DOMAIN}.json`),
      JSON.stringify({ ...domainObject(), request_hash_score: { enabled: false } }),
    );
    assert.equal((await f.call("POST", "/reload_filters")).status, 200);
    assert.equal((await f.call("POST", "/reload_components")).status, 200);
    await f.feed(IP, { http_user_agent: "D/1" });
    assert.deepEqual(
      f.commands(),
      [`add tsng.many_uas ${IP}`],
      "fourth UA counted with the first three",
    );
  } finally {
    await f.close();
  }
});

Deno.test("PUT of another component keeps many_uas state; changing many_uas itself starts it afresh", async () => {
  const f = await apiFixture();
  try {
    await threeAgents(f);
    await f.call("PUT", `/filters/${DOMAIN}/request_hash_score`, { enabled: false });
    await f.call("PUT", `/filters/${DOMAIN}/many_uas`, {
      max_uas: 3,
      skip_if: ["whitelisted"],
      min_new_share: 0,
    });
    await f.feed(IP, { http_user_agent: "D/1" });
    assert.deepEqual(f.commands(), [`add tsng.many_uas ${IP}`]);

    // The control: a real change to many_uas builds a new instance, so a fresh IP's three
    // earlier agents are forgotten and a fourth alone is no event.
    const other = "192.0.2.2";
    for (const ua of ["A/1", "B/1", "C/1"]) await f.feed(other, { http_user_agent: ua });
    await f.call("PUT", `/filters/${DOMAIN}/many_uas`, {
      max_uas: 3,
      window: 600,
      min_new_share: 0,
    });
    await f.feed(other, { http_user_agent: "D/1" });
    assert.deepEqual(f.commands(1), []);
  } finally {
    await f.close();
  }
});

Deno.test("repeated reloads and identical PUTs send no duplicate adds", async () => {
  const f = await apiFixture();
  try {
    await f.feed("198.51.100.9");
    await f.feed("203.0.113.1");
    for (let i = 0; i < 3; i++) {
      assert.equal((await f.call("POST", "/reload_filters")).status, 200);
      assert.equal((await f.call("POST", "/reload_components")).status, 200);
      assert.equal((await f.call("PUT", `/filters/${DOMAIN}`, domainObject())).status, 200);
      await f.feed("198.51.100.9");
      await f.feed("203.0.113.1");
    }
    assert.deepEqual(f.commands(), ["add tsng.fixed 198.51.100.9", "add tsng.scan 203.0.113.1"]);
  } finally {
    await f.close();
  }
});

/** A runner whose configure() waits at a gate the test opens. */
function gatedRunner(runner: ChainRunner) {
  let gate: PromiseWithResolvers<void> | undefined;
  let entered = Promise.withResolvers<void>();
  const wrapped: ChainRunner = {
    submit: (domainId, record, body, now) => runner.submit(domainId, record, body, now),
    async configure(domainId, config) {
      if (gate) {
        entered.resolve();
        await gate.promise;
      }
      return await runner.configure(domainId, config);
    },
    has: (domainId) => runner.has(domainId),
    setGlobal: (global) => runner.setGlobal(global),
    remove: (domainId) => runner.remove(domainId),
    sweep: (now) => runner.sweep(now),
    steps: (domainId) => runner.steps(domainId),
    stats: () => runner.stats(),
    settled: () => runner.settled(),
    close: () => runner.close(),
  };
  return {
    wrapped,
    close() {
      gate = Promise.withResolvers();
      entered = Promise.withResolvers();
    },
    entered: () => entered.promise,
    open() {
      gate?.resolve();
      gate = undefined;
    },
  };
}

Deno.test("a slow PUT never holds ingest; a second PUT waits its turn", async () => {
  let gate: ReturnType<typeof gatedRunner> | undefined;
  const f = await apiFixture({
    runner: (runner) => {
      gate = gatedRunner(runner);
      return gate.wrapped;
    },
  });
  try {
    await f.feed("203.0.113.1");
    gate!.close();
    let firstDone = false;
    let secondDone = false;
    const first = f.call("PUT", `/filters/${DOMAIN}/lm`, domainObject("disabled").lm)
      .then((r) => (firstDone = true, r));
    await gate!.entered();
    const second = f.call("PUT", `/filters/${DOMAIN}/many_uas`, { max_uas: 5 })
      .then((r) => (secondDone = true, r));

    // While the first PUT is being applied, records run on the chain in force.
    await f.feed("198.51.100.9");
    await f.feed("203.0.113.2");
    assert.deepEqual(f.commands(), [
      "add tsng.scan 203.0.113.1",
      "add tsng.fixed 198.51.100.9",
      "add tsng.scan 203.0.113.2",
    ]);
    assert.equal((await f.call("GET", "/filters")).status, 200, "reads are answered meanwhile");
    assert.equal(firstDone, false);
    assert.equal(secondDone, false);

    gate!.open();
    assert.equal((await first).body.status, "success");
    assert.equal((await second).body.status, "success");
    assert.deepEqual(f.commands(3).sort(), [
      "del tsng.scan 203.0.113.1",
      "del tsng.scan 203.0.113.2",
    ]);
    const lm = (await f.call("GET", `/filters/${DOMAIN}/lm`)).body.data as DomainConfig["lm"];
    assert.equal(lm.projections.find((p) => p.name === "scan")!.state, "disabled");
    assert.equal(
      ((await f.call("GET", `/filters/${DOMAIN}/many_uas`)).body.data as { max_uas: number })
        .max_uas,
      5,
    );
  } finally {
    await f.close();
  }
});

Deno.test("overlapping PUTs apply in order: the last one is what runs", async () => {
  const f = await apiFixture();
  try {
    await f.feed("203.0.113.1");
    const answers = await Promise.all([
      f.call("PUT", `/filters/${DOMAIN}/lm`, domainObject("disabled").lm),
      f.call("PUT", `/filters/${DOMAIN}/lm`, domainObject("enabled").lm),
      f.call("PUT", `/filters/${DOMAIN}/lm`, domainObject("disabled").lm),
      f.call("PUT", "/filters/9300", domainObject()),
      f.call("PUT", "/filters/9300/many_uas", { max_uas: 8 }),
    ]);
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200]);
    assert.equal(f.lm.modes(DOMAIN).scan!.state, "disabled");
    assert.equal(f.lm.modes(DOMAIN).scan!.mode, "disabled");
    assert.deepEqual(f.commands(), ["add tsng.scan 203.0.113.1", "del tsng.scan 203.0.113.1"]);
    const uas = (await f.call("GET", "/filters/9300/many_uas")).body.data as { max_uas: number };
    assert.equal(uas.max_uas, 8);
    await f.feed("203.0.113.5", {}, 9300);
    assert.deepEqual(f.commands(2), ["add tsng.scan 203.0.113.5"]);
  } finally {
    await f.close();
  }
});

Deno.test("one PUT builds the domain's chain once (no second, leaked chain)", async () => {
  const configured: number[] = [];
  const f = await apiFixture({
    runner: (runner) => ({
      submit: (domainId, record, body, now) => runner.submit(domainId, record, body, now),
      configure(domainId, config) {
        configured.push(domainId);
        return runner.configure(domainId, config);
      },
      has: (domainId) => runner.has(domainId),
      setGlobal: (global) => runner.setGlobal(global),
      remove: (domainId) => runner.remove(domainId),
      sweep: (now) => runner.sweep(now),
      steps: (domainId) => runner.steps(domainId),
      stats: () => runner.stats(),
      settled: () => runner.settled(),
      close: () => runner.close(),
    }),
  });
  try {
    configured.length = 0;
    assert.equal((await f.call("PUT", "/filters/9400", domainObject())).status, 200);
    assert.equal((await f.call("PUT", "/filters/9400/many_uas", { max_uas: 2 })).status, 200);
    assert.equal((await f.call("POST", "/reload_components")).status, 200);
    assert.deepEqual(configured, [9400, 9400]);
  } finally {
    await f.close();
  }
});
