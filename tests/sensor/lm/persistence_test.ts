import assert from "node:assert/strict";
import { join } from "node:path";
import { TICK_MS } from "../../../src/sensor/lm/mod.ts";
import { brief, lm, ManualClock, NO_FLAGS, projection, setup, T0 } from "./_helpers.ts";

const D = 8984;

const config = () =>
  lm([
    projection({ name: "rate", state: "auto", nursery: { events: 1, ips: 0 }, timeout: 60 }),
    projection({ name: "uas", events: "^many_uas$", rule_name: "tsng.uas", timeout: 3600 }),
  ]);

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "qts_lm_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ListManager save/restore keeps bans and modes, re-sends nothing, drops expired", async () => {
  await withDir(async (dir) => {
    const stateFile = join(dir, "state", "lm.json");
    const first = setup({ stateFile });
    first.lm.configure(D, config());
    first.lm.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
    first.clock.advance(TICK_MS);
    first.lm.tick();
    first.lm.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
    first.lm.onEvents(D, "1.0.0.2", ["many_uas"], NO_FLAGS, 2);
    assert.deepEqual(brief(first.sent), ["add 1.0.0.1 loc_rate_a", "add 1.0.0.2 many_uas"]);
    await first.lm.close();
    const saved = JSON.parse(await Deno.readTextFile(stateFile));
    assert.equal(saved.domains[D].bans.length, 2);
    assert.equal(saved.domains[D].modes.rate.mode, "block");
    assert.deepEqual(
      [...Deno.readDirSync(join(dir, "state"))].map((e) => e.name),
      ["lm.json"],
      "no temp file left behind",
    );

    // Restart 61 s later: the 60 s ban has expired, the 3600 s one has not.
    const clock = new ManualClock(first.clock.t + 61_000);
    const second = setup({ stateFile, clock });
    assert.equal(await second.lm.restore(), 1);
    second.lm.configure(D, config());
    assert.equal(second.sent.length, 0, "restore and configure send nothing");
    assert.deepEqual(second.lm.bans(D), [{
      ip: "1.0.0.2",
      rule_name: "tsng.uas",
      comment: "many_uas",
      added_at: T0 + TICK_MS,
      expires_at: T0 + TICK_MS + 3600_000,
      projection: "uas",
      simulated: false,
      reason: "event",
      events: 1,
    }]);
    assert.equal(second.lm.modes(D).rate?.mode, "block", "the auto projection stays in block");
    second.lm.onEvents(D, "1.0.0.2", ["many_uas"], NO_FLAGS, 1);
    second.lm.onEvents(D, "1.0.0.1", ["loc_rate_b"], NO_FLAGS, 1);
    assert.deepEqual(brief(second.sent), ["add 1.0.0.1 loc_rate_b"]);
    await second.lm.close();
  });
});

Deno.test("ListManager.restore() after configure applies modes at once", async () => {
  await withDir(async (dir) => {
    const stateFile = join(dir, "lm.json");
    const first = setup({ stateFile });
    first.lm.configure(D, config());
    first.lm.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
    first.clock.advance(TICK_MS);
    first.lm.tick();
    await first.lm.close();

    const second = setup({ stateFile, clock: new ManualClock(first.clock.t) });
    second.lm.configure(D, config());
    assert.equal(second.lm.modes(D).rate?.mode, "nursery");
    assert.equal(await second.lm.restore(), 0);
    assert.equal(second.lm.modes(D).rate?.mode, "block");
    await second.lm.close();
  });
});

Deno.test("ListManager restored bans of a projection gone from the config are deleted", async () => {
  await withDir(async (dir) => {
    const stateFile = join(dir, "lm.json");
    const first = setup({ stateFile });
    first.lm.configure(D, config());
    first.lm.onEvents(D, "1.0.0.2", ["many_uas"], NO_FLAGS, 2);
    await first.lm.close();

    const clock = new ManualClock(first.clock.t + 1000);
    const second = setup({ stateFile, clock });
    assert.equal(await second.lm.restore(), 1);
    second.lm.configure(D, lm([projection({ name: "rate" })]));
    assert.deepEqual(
      second.sent.map((c) => `${c.method} ${c.rule_name} ${c.ip_addr} ${c.worker}`),
      [
        "del tsng.uas 1.0.0.2 wrk_2",
      ],
    );
    await second.lm.close();
  });
});

Deno.test("ListManager.restore() moves a corrupt state file aside and starts empty", async () => {
  await withDir(async (dir) => {
    const stateFile = join(dir, "lm.json");
    await Deno.writeTextFile(stateFile, "{not json");
    const logged: string[] = [];
    const m = setup({ stateFile, log: (level, msg) => logged.push(`${level} ${msg}`) });
    assert.equal(await m.lm.restore(), 0);
    assert.match(logged[0] ?? "", /^error Cannot parse lm state file .*lm\.json/);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.equal(names.length, 1);
    assert.match(names[0] ?? "", /^lm\.json\.corrupt-\d+$/);
    await m.lm.close();
  });
});

Deno.test("ListManager.restore() without a state file restores nothing", async () => {
  await withDir(async (dir) => {
    const m = setup({ stateFile: join(dir, "missing.json") });
    assert.equal(await m.lm.restore(), 0);
    const none = setup();
    assert.equal(await none.lm.restore(), 0);
    await none.lm.save();
    await m.lm.close();
  });
});

Deno.test("ListManager saves on its own shortly after a change", async () => {
  await withDir(async (dir) => {
    const stateFile = join(dir, "lm.json");
    const m = setup({ stateFile, saveDelayMs: 10 });
    const watcher = Deno.watchFs(dir);
    const bound = setTimeout(() => watcher.close(), 10_000);
    try {
      m.lm.configure(D, config());
      m.lm.onEvents(D, "1.0.0.2", ["many_uas"], NO_FLAGS, 2);
      let seen = false;
      for await (const event of watcher) {
        if (event.paths.some((p) => p.endsWith("/lm.json"))) {
          seen = true;
          break;
        }
      }
      assert.ok(seen, "the state file appeared within 10 s");
      const saved = JSON.parse(await Deno.readTextFile(stateFile));
      assert.equal(saved.domains[D].bans[0][0], "1.0.0.2");
    } finally {
      clearTimeout(bound);
      try {
        watcher.close();
      } catch {
        // Already closed by the bound.
      }
      await m.lm.close();
    }
  });
});

Deno.test("ListManager restores watched IPs, so a restart in watch mode still bans them at activation", async () => {
  await withDir(async (dir) => {
    const stateFile = join(dir, "lm.json");
    const watching = () =>
      lm([projection({ name: "rate", state: "auto", activation: { events: 3, ips: 2 } })]);
    const first = setup({ stateFile });
    first.lm.configure(D, watching());
    first.lm.onEvents(D, "1.0.0.1", ["loc_rate_a"], NO_FLAGS, 1);
    first.lm.onEvents(D, "1.0.0.2", ["loc_rate_b"], NO_FLAGS, 2);
    assert.equal(first.lm.modes(D).rate?.mode, "watch");
    assert.equal(first.lm.modes(D).rate?.watched, 2);
    await first.lm.close();
    assert.equal(first.sent.length, 0);

    const clock = new ManualClock(first.clock.t + 1000);
    const second = setup({ stateFile, clock });
    await second.lm.restore();
    second.lm.configure(D, watching());
    assert.equal(second.lm.modes(D).rate?.watched, 2, "watched IPs survive the restart");
    // The attack goes on from two more addresses; the next window activates the projection and
    // every IP watched, before and after the restart, is banned.
    for (let i = 0; i < 3; i++) second.lm.onEvents(D, "1.0.0.3", ["loc_rate_a"], NO_FLAGS, 1);
    second.lm.onEvents(D, "1.0.0.4", ["loc_rate_a"], NO_FLAGS, 1);
    clock.advance(TICK_MS);
    second.lm.tick();
    assert.deepEqual(brief(second.sent).sort(), [
      "add 1.0.0.1 loc_rate_a",
      "add 1.0.0.2 loc_rate_b",
      "add 1.0.0.3 loc_rate_a",
      "add 1.0.0.4 loc_rate_a",
    ]);
  });
});

Deno.test("ListManager save/restore keeps repeat offenders, so escalation survives a restart", async () => {
  await withDir(async (dir) => {
    const stateFile = join(dir, "lm.json");
    const rate = lm([projection({
      name: "rate",
      timeout: 60,
      escalation: { factor: 2, max: 86_400, forget: 86_400 },
    })]);
    const first = setup({ stateFile });
    first.lm.configure(D, rate);
    first.lm.onEvents(D, "203.0.113.5", ["loc_rate_a"], NO_FLAGS, 1);
    assert.equal(first.sent[0]?.timeout, 60);
    await first.lm.close();
    const second = setup({ stateFile, clock: new ManualClock(first.clock.t + 120_000) });
    await second.lm.restore();
    second.lm.configure(D, rate);
    second.lm.onEvents(D, "203.0.113.5", ["loc_rate_a"], NO_FLAGS, 1);
    assert.equal(second.sent[0]?.timeout, 120, "the second ban lasts twice the first");
  });
});

Deno.test("ListManager save/restore keeps each ban's evidence and simulation flag", async () => {
  await withDir(async (dir) => {
    const stateFile = join(dir, "lm.json");
    const config = lm([
      projection({ name: "rate" }),
      projection({ name: "sim", events: "^probe_", rule_name: "tsng.sim", simulate: true }),
    ]);
    const sample = { method: "GET", host: "h", url: "/.env", status: 404, ua: "x" };
    const first = setup({ stateFile });
    first.lm.configure(D, config);
    first.lm.onEvents(D, "203.0.113.5", ["loc_rate_a"], NO_FLAGS, 1, sample);
    first.lm.onEvents(D, "203.0.113.6", ["probe_file"], NO_FLAGS, 1, sample);
    await first.lm.close();
    const second = setup({ stateFile, clock: new ManualClock(first.clock.t + 1000) });
    await second.lm.restore();
    second.lm.configure(D, config);
    const [real] = second.lm.banDetails("203.0.113.5");
    assert.deepEqual(real?.evidence?.samples, [sample]);
    assert.equal(second.lm.banDetails("203.0.113.6")[0]?.simulated, true);
  });
});

Deno.test("ListManager writes its state file 0600 in a 0700 directory (bans are no one else's business)", async () => {
  await withDir(async (dir) => {
    const stateFile = join(dir, "state", "lm.json");
    const { lm: m } = setup({ stateFile });
    m.configure(D, lm([projection({ name: "rate" })]));
    m.onEvents(D, "203.0.113.5", ["loc_rate_a"], NO_FLAGS, 1);
    await m.close();
    assert.equal((await Deno.stat(stateFile)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(join(dir, "state"))).mode! & 0o777, 0o700);
  });
});
