import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigStore } from "../../../src/shared/config/config_store.ts";
import { COMPONENT_NAMES } from "../../../src/shared/config/components.ts";
import {
  EMBEDDED_DEFAULT_CONF,
  parseDefaultConf,
} from "../../../src/shared/config/load_components.ts";
import { loadSettings } from "../../../src/shared/config/settings.ts";

async function storeIn(dir: string, extra = ""): Promise<ConfigStore> {
  const settings = loadSettings(
    `[tsng]\nfilters_config_dir = ${join(dir, "filters")}, ${join(dir, "more")}\n` +
      `components_config_dir = ${join(dir, "components")}\n${extra}`,
    "test.ini",
  );
  const store = new ConfigStore(settings);
  await store.load();
  return store;
}

Deno.test("default.conf validates and carries the seed's 11 components and our 4", () => {
  const config = parseDefaultConf(EMBEDDED_DEFAULT_CONF, "default.conf");
  assert.deepEqual(Object.keys(config).sort(), [...COMPONENT_NAMES].sort());
  assert.equal(COMPONENT_NAMES.length, 15);
  const families = config.lm.projections.map((p) => p.events);
  for (
    const family of [
      "^loc_rate_",
      "^many_uas$",
      "^hash_score_",
      "^fixed_",
      "^lua_",
      "^status_",
      "^probe_",
      "^(scanner_ua|fake_crawler)$",
      "^geo_zone_",
    ]
  ) {
    assert.ok(families.includes(family), family);
  }
  assert.equal(config.limit_req_mc.configurations[0]?.name, "def1");
  assert.equal(config.request_hash_score.per_ip.history_size, 40);
  assert.equal(config.request_hash_score.per_useragent.max_score, 10);
});

Deno.test("ConfigStore layers default.conf, component files and domain files", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(join(dir, "filters"));
  await Deno.mkdir(join(dir, "components"));
  await Deno.writeTextFile(join(dir, "components", "many_uas.yaml"), "max_uas: 5\n");
  await Deno.writeTextFile(
    join(dir, "filters", "8984.json"),
    JSON.stringify({ many_uas: { max_uas: 3, enabled: false } }),
  );
  const store = await storeIn(dir);
  assert.deepEqual(store.domains(), [8984]);
  // Each layer sets only the fields it names; the others keep the layer below's values, so the
  // global file keeps default.conf's skip_if, and the domain keeps the global file's fields.
  const defaults = parseDefaultConf(EMBEDDED_DEFAULT_CONF, "default.conf").many_uas;
  assert.deepEqual(store.global.many_uas, { ...defaults, max_uas: 5 });
  assert.deepEqual(store.global.many_uas.skip_if, ["whitelisted"]);
  assert.deepEqual(store.domainConfig(8984).many_uas, {
    ...defaults,
    max_uas: 3,
    enabled: false,
  });
  assert.equal(store.domainConfig(8985).many_uas.max_uas, 5);
  assert.equal(store.domainConfig(8984).lm.projections.length, 10);
});

Deno.test("ConfigStore.domainConfig() gives a domain with nothing of its own the global object", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(join(dir, "filters"));
  await Deno.mkdir(join(dir, "components"));
  await Deno.writeTextFile(join(dir, "filters", "8984.json"), JSON.stringify({ many_uas: {} }));
  const store = await storeIn(dir, "force_domains = *\n");
  // No object per domain id: every auto-created domain runs on the one global configuration.
  for (let id = 1; id <= 1000; id++) assert.equal(store.domainConfig(id), store.global);
  assert.notEqual(store.domainConfig(8984), store.global);
  assert.equal(store.domainConfig(8984), store.domainConfig(8984), "an own one is kept");
  // A reload of the components hands out the new global object.
  await Deno.writeTextFile(join(dir, "components", "many_uas.yaml"), "max_uas: 5\n");
  await store.reloadComponents();
  assert.equal(store.domainConfig(7), store.global);
  assert.equal(store.domainConfig(7).many_uas.max_uas, 5);
  // A domain given components of its own through the API gets its own object; deleted, the
  // global one again.
  await store.putComponent(7, "many_uas", { max_uas: 2 }, false);
  assert.equal(store.domainConfig(7).many_uas.max_uas, 2);
  store.deleteDomain(7);
  assert.equal(store.domainConfig(7), store.global);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("ConfigStore keeps the last good domain config when its file breaks", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(join(dir, "filters"));
  const file = join(dir, "filters", "7.json");
  await Deno.writeTextFile(file, JSON.stringify({ many_uas: { max_uas: 4 } }));
  const store = await storeIn(dir);
  const changes: number[][] = [];
  store.onChange((c) => changes.push(c.changed));
  await Deno.writeTextFile(file, JSON.stringify({ many_uas: { max_uas: "four" } }));
  const problems = await store.reloadFilters();
  assert.equal(problems.length, 1);
  assert.match(problems[0]!.message, /many_uas\.max_uas: expected a number, got string "four"/);
  assert.match(problems[0]!.message, /7\.json/);
  assert.equal(store.domainConfig(7).many_uas.max_uas, 4);
  assert.deepEqual(changes, [[]]);
});

Deno.test("ConfigStore rejects an unknown component and a malformed regex by name", async () => {
  const dir = await Deno.makeTempDir();
  const store = await storeIn(dir);
  await assert.rejects(store.putDomain(1, { nosuch: {} }, false), {
    message: /nosuch: unknown component/,
  });
  await assert.rejects(
    store.putComponent(1, "location_flags", { locations: [{ path: "(unclosed" }] }, false),
    { message: /location_flags\.locations\[0\]\.path: not a valid RE2 regex/ },
  );
  await assert.rejects(
    store.putComponent(1, "lm", { projections: [{ name: "x", events: "(?<=a)b" }] }, false),
    { message: /lm\.projections\[0\]\.events: not a valid RE2 regex/ },
  );
  await assert.rejects(store.putComponent(1, "many_uas", { max_uas: 3, colour: 1 }, false), {
    message: /many_uas: unknown field "colour"/,
  });
  assert.deepEqual(store.domains(), []);
});

Deno.test("ConfigStore.putDomain(rewrite) writes <domain>.json atomically to the first dir", async () => {
  const dir = await Deno.makeTempDir();
  const store = await storeIn(dir);
  await store.putDomain(8984, { many_uas: { max_uas: 2 } }, true);
  const saved = JSON.parse(await Deno.readTextFile(join(dir, "filters", "8984.json")));
  assert.equal(saved.many_uas.max_uas, 2);
  assert.deepEqual([...Deno.readDirSync(join(dir, "filters"))].map((e) => e.name), ["8984.json"]);
  const again = await storeIn(dir);
  assert.equal(again.domainConfig(8984).many_uas.max_uas, 2);
});

Deno.test("ConfigStore drops in-memory changes and deletions on reloadFilters", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(join(dir, "more"), { recursive: true });
  await Deno.writeTextFile(
    join(dir, "more", "5.json"),
    JSON.stringify({ many_uas: { max_uas: 9 } }),
  );
  const store = await storeIn(dir);
  await store.putComponent(5, "many_uas", { max_uas: 1 }, false);
  await store.putDomain(6, {}, false);
  assert.equal(store.domainConfig(5).many_uas.max_uas, 1);
  assert.deepEqual(store.domains(), [5, 6]);
  store.deleteDomain(5);
  assert.deepEqual(store.domains(), [6]);
  await store.reloadFilters();
  assert.deepEqual(store.domains(), [5]);
  assert.equal(store.domainConfig(5).many_uas.max_uas, 9);
});

Deno.test("ConfigStore.reloadComponents() keeps the previous value of a broken component file", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(join(dir, "components"));
  const file = join(dir, "components", "many_uas.json");
  await Deno.writeTextFile(file, JSON.stringify({ max_uas: 6 }));
  const store = await storeIn(dir);
  await Deno.writeTextFile(file, "{not json");
  const problems = await store.reloadComponents();
  assert.equal(problems.length, 1);
  assert.match(problems[0]!.message, /many_uas\.json: cannot parse/);
  assert.equal(store.global.many_uas.max_uas, 6);
});

Deno.test("ConfigStore.load() keeps a domain whose file is broken at start listed, on defaults, and says so", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(join(dir, "filters"));
  const file = join(dir, "filters", "7.json");
  await Deno.writeTextFile(file, "garbage");
  const store = await storeIn(dir);
  assert.deepEqual(store.domains(), [7]);
  assert.deepEqual(store.onDefaults(), [7]);
  assert.deepEqual(store.domainConfig(7), store.global);
  assert.match(store.problems.get(file) ?? "", /7\.json.*running on defaults/s);
  const changes: number[][] = [];
  store.onChange((c) => changes.push(c.changed));
  // Still broken: still on defaults, no change.
  assert.match((await store.reloadFilters())[0]!.message, /running on defaults/);
  // Fixed: its own configuration, a change.
  await Deno.writeTextFile(file, JSON.stringify({ many_uas: { max_uas: 4 } }));
  assert.deepEqual(await store.reloadFilters(), []);
  assert.deepEqual(store.onDefaults(), []);
  assert.equal(store.domainConfig(7).many_uas.max_uas, 4);
  assert.deepEqual(changes, [[], [7]]);
  assert.equal(store.problems.size, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("ConfigStore.reloadComponents() skips a FIFO named like a component file instead of hanging", async () => {
  if (Deno.build.os === "windows") return;
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(join(dir, "components"));
  const store = await storeIn(dir);
  const fifo = join(dir, "components", "lm.yaml");
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output().catch(() => undefined);
  if (!made?.success) return; // no mkfifo here
  const reload = store.reloadComponents();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stuck = await Promise.race([
    reload.then(() => false),
    new Promise<true>((resolve) => timer = setTimeout(() => resolve(true), 3000)),
  ]);
  clearTimeout(timer);
  if (stuck) {
    // Unblock the read (a writer opens and closes the FIFO) so the test can end, then fail.
    (await Deno.open(fifo, { write: true })).close();
    await reload;
  }
  assert.equal(stuck, false, "reloadComponents() opened the FIFO and waited for a writer");
  await Deno.remove(dir, { recursive: true });
});
