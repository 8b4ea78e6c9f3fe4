import assert from "node:assert/strict";
import { join } from "node:path";
import { COMPONENT_SCHEMAS, type FixedListsConfig } from "../../../src/shared/config/components.ts";
import { validate } from "../../../src/shared/config/schema.ts";
import { fixedLists } from "../../../src/sensor/filters/fixed_lists.ts";
import type { FilterInstance, RequestContext } from "../../../src/sensor/filters/types.ts";
import { emptyRecord } from "../../../src/sensor/wire/mod.ts";

function config(value: unknown): FixedListsConfig {
  return validate(COMPONENT_SCHEMAS.fixed_lists, value, "fixed_lists") as FixedListsConfig;
}

function run(filter: FilterInstance, ip: string, ctx?: RequestContext): RequestContext {
  const c = ctx ?? { domainId: 1, ip, now: 0, phase: "first", flags: new Map(), events: [] };
  filter.run(emptyRecord(), c);
  return c;
}

Deno.test("fixedLists() splits white and flag lists (step 3) from black lists (step 5)", async () => {
  const { early, late } = await fixedLists(config({
    lists: [
      { name: "office", type: "white", entries: ["192.0.2.0/24"] },
      { name: "partners", type: "flags", entries: ["2001:db8::/32"], flags: ["partner"] },
      { name: "bad", type: "black", entries: ["192.0.2.7", "198.51.100.0/24"] },
      { name: "tor", type: "black", entries: ["203.0.113.0/24"], flags: ["tor"] },
    ],
  }));
  const office = run(early, "192.0.2.7");
  assert.equal(office.flags.get("whitelisted"), true);
  run(late, "192.0.2.7", office);
  assert.deepEqual(office.events, ["fixed_bad"]); // the chain's skip_if decides what whitelisted stops
  assert.equal(run(early, "2001:db8::5").flags.get("partner"), true);
  assert.deepEqual(run(late, "198.51.100.9").events, ["fixed_bad"]);
  const tor = run(early, "203.0.113.1");
  assert.deepEqual([tor.flags.get("tor"), tor.events], [true, ["fixed_tor"]]);
  assert.deepEqual(run(late, "203.0.113.1").events, []);
  assert.deepEqual(run(late, "10.0.0.1").events, []);
});

Deno.test("fixedLists() uses only the lists named in use, plus the global component's", async () => {
  const global = config({
    lists: [{ name: "shared", type: "black", entries: ["10.0.0.0/8"] }],
    use: ["shared"],
  });
  const own = config({
    lists: [
      { name: "a", type: "black", entries: ["192.0.2.1"] },
      { name: "b", type: "black", entries: ["192.0.2.2"] },
    ],
    use: ["b"],
  });
  const { late } = await fixedLists(own, { global });
  assert.deepEqual(run(late, "192.0.2.1").events, []);
  assert.deepEqual(run(late, "192.0.2.2").events, ["fixed_b"]);
  assert.deepEqual(run(late, "10.1.2.3").events, ["fixed_shared"]);
  const alone = await fixedLists({ ...own, use_component_use: false }, { global });
  assert.deepEqual(run(alone.late, "10.1.2.3").events, []);
  await assert.rejects(fixedLists(config({ use: ["nope"] }), { global }), /no list named "nope"/);
});

Deno.test("fixedLists() loads list files from the list directory and names bad lines", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(join(dir, "block.txt"), "# blocked\n198.51.100.0/24\n\n2001:db8::1\n");
  const { late } = await fixedLists(
    config({ lists: [{ name: "f", type: "black", file: "block.txt", entries: ["192.0.2.9"] }] }),
    { listDir: dir },
  );
  assert.deepEqual(run(late, "198.51.100.200").events, ["fixed_f"]);
  assert.deepEqual(run(late, "2001:db8::1").events, ["fixed_f"]);
  assert.deepEqual(run(late, "192.0.2.9").events, ["fixed_f"]);
  await Deno.writeTextFile(join(dir, "broken.txt"), "1.2.3.4\nnot-an-ip\n");
  await assert.rejects(
    fixedLists(config({ lists: [{ name: "g", type: "black", file: "broken.txt" }] }), {
      listDir: dir,
    }),
    /broken\.txt:2: "not-an-ip" is not an IP address/,
  );
});

Deno.test("fixedLists() refuses list file paths outside the list directory", async () => {
  for (const file of ["../etc/passwd", "/etc/passwd", "a/../../b", "x y"]) {
    await assert.rejects(
      fixedLists(config({ lists: [{ name: "p", type: "black", file }] }), { listDir: "/tmp" }),
      /must be a relative path inside components_config_dir/,
      file,
    );
  }
});

Deno.test("fixedLists() flags both halves of a request but emits on the first phase only", async () => {
  const { early, late } = await fixedLists(config({
    lists: [
      { name: "office", type: "white", entries: ["192.0.2.0/24"] },
      { name: "tor", type: "black", entries: ["203.0.113.0/24"], flags: ["tor"] },
      { name: "bad", type: "black", entries: ["198.51.100.0/24"] },
    ],
  }));
  const halves = (ip: string) =>
    (["first", "response"] as const).map((phase) => {
      const ctx: RequestContext = { domainId: 1, ip, now: 0, phase, flags: new Map(), events: [] };
      run(early, ip, ctx);
      run(late, ip, ctx);
      return { flags: Object.fromEntries(ctx.flags), events: ctx.events };
    });
  assert.deepEqual(halves("198.51.100.9"), [
    { flags: {}, events: ["fixed_bad"] },
    { flags: {}, events: [] },
  ]);
  assert.deepEqual(halves("203.0.113.4"), [
    { flags: { tor: true }, events: ["fixed_tor"] },
    { flags: { tor: true }, events: [] },
  ]);
  assert.deepEqual(halves("192.0.2.1"), [
    { flags: { whitelisted: true }, events: [] },
    { flags: { whitelisted: true }, events: [] },
  ]);
});
