import assert from "node:assert/strict";
import { join } from "node:path";
import { silentLogger } from "../../../src/shared/log/logger.ts";
import {
  Autoreload,
  type AutoreloadOptions,
  isConfigFile,
  type ReloadKind,
} from "../../../src/sensor/autoreload.ts";
import { apiFixture, DOMAIN, domainObject } from "./_api_fixture.ts";

/** Timers on a hand-moved clock: `advance()` runs what falls due, in order. */
class FakeTimers {
  t = 0;
  #next = 1;
  readonly tasks = new Map<number, { at: number; fn: () => void }>();
  setTimeout(fn: () => void, ms: number): number {
    const id = this.#next++;
    this.tasks.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(id: unknown): void {
    this.tasks.delete(id as number);
  }
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.tasks) {
        if (entry[1].at <= end && (!due || entry[1].at < due[1].at)) due = entry;
      }
      if (!due) break;
      this.tasks.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
  }
}

const SETTINGS: AutoreloadOptions["settings"] = {
  filters_config_dir: ["/nonexistent/qts-filters"],
  components_config_dir: "",
  autodiscover: false,
  autodiscover_interval: 300,
  autoreload_filters: false,
  autoreload_components: false,
};

/** An Autoreload on fake timers whose reloads the test finishes by hand. */
function manual(settings: Partial<AutoreloadOptions["settings"]> = {}) {
  const timers = new FakeTimers();
  const calls: string[] = [];
  const pending: PromiseWithResolvers<void>[] = [];
  const auto = new Autoreload({
    settings: { ...SETTINGS, ...settings },
    log: silentLogger,
    timers,
    reload(what, trigger) {
      calls.push(`${what}/${trigger}`);
      const done = Promise.withResolvers<void>();
      pending.push(done);
      return done.promise;
    },
  });
  /** Lets the reload promise chain run (then/finally hops). */
  const settle = async () => {
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };
  return { auto, timers, calls, pending, settle };
}

Deno.test("isConfigFile() accepts what the reloads read, not temp files or others", () => {
  assert.equal(isConfigFile("filters", "8984.json"), true);
  assert.equal(isConfigFile("filters", ".8984.json.1a2b3c4d.tmp"), false);
  assert.equal(isConfigFile("filters", "8984.json.bak"), false);
  assert.equal(isConfigFile("filters", "x.json"), false);
  assert.equal(isConfigFile("components", "default.conf"), true);
  assert.equal(isConfigFile("components", "many_uas.yaml"), true);
  assert.equal(isConfigFile("components", "lm.yml"), true);
  assert.equal(isConfigFile("components", "lm.json"), true);
  assert.equal(isConfigFile("components", "blacklist.txt"), false);
  assert.equal(isConfigFile("components", "nope.yaml"), false);
});

Deno.test("Autoreload.notify() debounces a burst into one reload after it settles", async () => {
  const { auto, timers, calls, pending, settle } = manual();
  for (let i = 0; i < 5; i++) {
    auto.notify("filters");
    timers.advance(100);
  }
  assert.deepEqual(calls, [], "still within the burst");
  timers.advance(399);
  assert.deepEqual(calls, []);
  timers.advance(1);
  assert.deepEqual(calls, ["filters/autoreload"]);
  pending[0]!.resolve();
  await settle();
  timers.advance(10_000);
  assert.deepEqual(calls, ["filters/autoreload"], "nothing more without events");
  await auto.close();
});

Deno.test("Autoreload.notify() reloads after maxWait even while events keep coming", async () => {
  const { auto, timers, calls, pending, settle } = manual();
  for (let t = 0; t < 4900; t += 100) {
    auto.notify("components");
    timers.advance(100);
  }
  assert.deepEqual(calls, []);
  auto.notify("components");
  timers.advance(100);
  assert.deepEqual(calls, ["components/autoreload"], "fired 5000 ms after the first event");
  pending[0]!.resolve();
  await settle();
  await auto.close();
});

Deno.test("Autoreload runs one reload at a time and one more for changes made during it", async () => {
  const { auto, timers, calls, pending, settle } = manual();
  auto.notify("filters");
  timers.advance(500);
  assert.deepEqual(calls, ["filters/autoreload"]);
  // Three more bursts while the first reload runs: one catch-up reload, not three.
  for (let i = 0; i < 3; i++) {
    auto.notify("filters");
    timers.advance(500);
  }
  auto.notify("components");
  timers.advance(500);
  assert.deepEqual(calls, ["filters/autoreload", "components/autoreload"]);
  pending[0]!.resolve();
  await settle();
  assert.deepEqual(calls, ["filters/autoreload", "components/autoreload", "filters/autoreload"]);
  pending[1]!.resolve();
  pending[2]!.reject(new Error("disk gone"));
  await settle();
  assert.equal(calls.length, 3, "a failed reload is logged, not retried in a loop");
  await auto.close();
});

Deno.test("Autoreload autodiscover re-reads filters every interval, never overlapping", async () => {
  const { auto, timers, calls, pending, settle } = manual({
    autodiscover: true,
    autodiscover_interval: 300,
  });
  await auto.start();
  timers.advance(299_999);
  assert.deepEqual(calls, []);
  timers.advance(1);
  assert.deepEqual(calls, ["filters/autodiscover"]);
  // A slow reload: the next interval starts only when it is done.
  timers.advance(900_000);
  assert.equal(calls.length, 1);
  pending[0]!.resolve();
  await settle();
  timers.advance(300_000);
  assert.equal(calls.length, 2);
  pending[1]!.resolve();
  await settle();
  await auto.close();
  timers.advance(3_000_000);
  assert.equal(calls.length, 2, "close() stops the timer");
  assert.equal(timers.tasks.size, 0);
});

Deno.test("Autoreload routes watcher events by directory and file name", async () => {
  const root = await Deno.makeTempDir({ prefix: "qts-autoreload-" });
  const q = (name: string) => join(root, name);
  const timers = new FakeTimers();
  const calls: string[] = [];
  const feeds = new Map<string, ReadableStreamDefaultController<Deno.FsEvent>>();
  const auto = new Autoreload({
    settings: {
      ...SETTINGS,
      filters_config_dir: [q("filters"), q("shared")],
      components_config_dir: q("shared"),
      autoreload_filters: true,
      autoreload_components: true,
    },
    log: silentLogger,
    timers,
    reload(what: ReloadKind) {
      calls.push(what);
      return Promise.resolve();
    },
    watch(path) {
      let controller!: ReadableStreamDefaultController<Deno.FsEvent>;
      const stream = new ReadableStream<Deno.FsEvent>({ start: (c) => void (controller = c) });
      feeds.set(path, controller);
      return Object.assign(stream, { close: () => controller.close() });
    },
  });
  await auto.start();
  assert.deepEqual([...feeds.keys()].sort(), [q("filters"), q("shared")]);
  const event = (dir: string, ...names: string[]) =>
    feeds.get(dir)!.enqueue({ kind: "modify", paths: names.map((n) => join(dir, n)) });
  const settle = async () => {
    for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
  };

  event(q("filters"), ".8984.json.abcd1234.tmp", "notes.txt");
  event(q("filters"), "sub/8984.json");
  await settle();
  timers.advance(1000);
  assert.equal(calls.length, 0, "temp files, other files and subdirectories are ignored");

  event(q("filters"), "8984.json");
  await settle();
  timers.advance(1000);
  assert.deepEqual(calls, ["filters"]);

  // Files the API wrote itself are skipped, unless another file changed in the same burst.
  const own = join(q("filters"), "9.json");
  const skipping = new Autoreload({
    settings: { ...SETTINGS, filters_config_dir: [q("filters")], autoreload_filters: true },
    log: silentLogger,
    timers,
    reload(what: ReloadKind) {
      calls.push(`skipping:${what}`);
      return Promise.resolve();
    },
    isOwnWrite: (path) => Promise.resolve(path === own),
    watch: () => Object.assign(new ReadableStream<Deno.FsEvent>(), { close() {} }),
  });
  skipping.notify("filters", own);
  timers.advance(1000);
  await settle();
  assert.deepEqual(calls, ["filters"]);
  skipping.notify("filters", own);
  skipping.notify("filters", join(q("filters"), "10.json"));
  timers.advance(1000);
  await settle();
  assert.deepEqual(calls, ["filters", "skipping:filters"]);
  await skipping.close();

  // A directory that is both: a domain file reloads filters, a component file components.
  event(q("shared"), "7.json");
  event(q("shared"), "many_uas.yaml");
  await settle();
  timers.advance(1000);
  assert.deepEqual(calls.sort(), ["components", "filters", "filters", "skipping:filters"]);
  await auto.close();
  await Deno.remove(root, { recursive: true });
});

Deno.test("Autoreload on a real directory: a written domain file is applied, a broken one is not", async () => {
  const f = await apiFixture();
  const applied = (maxUas: number) => f.store.domainConfig(DOMAIN).many_uas.max_uas === maxUas;
  const auto = new Autoreload({
    settings: { ...f.store.settings, autodiscover: false, autoreload_filters: true },
    log: silentLogger,
    debounceMs: 20,
    reload: (what, trigger) => f.actions.reload(what, trigger),
  });
  try {
    await auto.start();
    const file = join(f.filtersDir, `${DOMAIN}.json`);
    await Deno.writeTextFile(file, JSON.stringify({ ...domainObject(), many_uas: { max_uas: 9 } }));
    await poll("the new file to be applied", () => applied(9));

    await Deno.writeTextFile(file, JSON.stringify({ many_uas: { max_uas: "x" } }));
    await poll(
      "the broken file to be reported",
      () => /result="error"/.test(f.metrics.render()),
    );
    assert.ok(applied(9), "last good configuration kept");
    await f.feed("198.51.100.9");
    assert.deepEqual(f.commands(), ["add tsng.fixed 198.51.100.9"]);
  } finally {
    await auto.close();
    await f.close();
  }
});

/** Polls a condition on real I/O every 10 ms, for at most 10 s. */
async function poll(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("ConfigActions.isOwnWrite() knows the files rewrite=1 wrote or removed, until someone else edits them", async () => {
  const f = await apiFixture();
  try {
    const file = join(f.filtersDir, "9000.json");
    assert.equal(await f.actions.isOwnWrite(file), false);
    assert.equal((await f.call("PUT", "/filters/9000?rewrite=1", {})).status, 200);
    assert.equal(await f.actions.isOwnWrite(file), true);
    assert.equal(await f.actions.isOwnWrite(join(f.filtersDir, `${DOMAIN}.json`)), false);
    await Deno.writeTextFile(file, "{ }\n");
    assert.equal(await f.actions.isOwnWrite(file), false, "an operator's edit");
    assert.equal((await f.call("PUT", "/filters/9000/many_uas?rewrite=1", {})).status, 200);
    assert.equal(await f.actions.isOwnWrite(file), true);
    assert.equal((await f.call("DELETE", "/filters/9000?rewrite=1")).status, 200);
    assert.equal(await f.actions.isOwnWrite(file), true, "removed by the API");
  } finally {
    await f.close();
  }
});

Deno.test("Autoreload skips the reload for a file the API itself just wrote", async () => {
  const f = await apiFixture();
  let reloads = 0;
  const ownSeen = Promise.withResolvers<void>();
  const auto = new Autoreload({
    settings: { ...f.store.settings, autodiscover: false, autoreload_filters: true },
    log: silentLogger,
    debounceMs: 20,
    reload: (what, trigger) => (reloads++, f.actions.reload(what, trigger)),
    async isOwnWrite(path) {
      const own = await f.actions.isOwnWrite(path);
      if (own) ownSeen.resolve();
      return own;
    },
  });
  try {
    await auto.start();
    // An in-memory change elsewhere, then a rewrite=1 PUT: its file event must not trigger a
    // reload that would drop the in-memory change.
    await f.call("PUT", "/filters/9000", { many_uas: { max_uas: 2 } });
    await f.call("PUT", `/filters/${DOMAIN}/many_uas?rewrite=1`, { max_uas: 6 });
    await ownSeen.promise;
    for (let i = 0; i < 10; i++) await Promise.resolve();
    assert.equal(reloads, 0);
    assert.deepEqual(f.store.domains(), [DOMAIN, 8985, 9000]);
    // Someone else's file is reloaded as usual.
    await Deno.writeTextFile(join(f.filtersDir, "7.json"), "{}");
    await poll("the operator's file to be loaded", () => f.store.domains().includes(7));
    assert.equal(reloads, 1);
  } finally {
    await auto.close();
    await f.close();
  }
});
