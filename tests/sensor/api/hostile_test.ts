import assert from "node:assert/strict";
import { join } from "node:path";
import { type ApiFixture, apiFixture, DOMAIN, domainObject } from "./_api_fixture.ts";

/** Everything a refused request must leave alone. */
async function snapshot(f: ApiFixture): Promise<string> {
  const listing: string[] = [];
  for (const dir of [f.dir, f.filtersDir, f.componentsDir]) {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      listing.push(entry.isFile ? `${path}=${await Deno.readTextFile(path)}` : path);
    }
  }
  return JSON.stringify({
    domains: f.store.domains(),
    configs: f.store.domains().map((id) => f.store.domainConfig(id)),
    steps: f.pipeline.steps(DOMAIN),
    modes: Object.keys(f.lm.modes(DOMAIN)),
    bans: f.lm.bans(DOMAIN),
    sent: f.sent.length,
    listing: listing.sort(),
  });
}

/** Asserts a 400 error answer whose exception matches, and that nothing changed. */
async function refused(
  f: ApiFixture,
  method: string,
  path: string,
  body: unknown,
  exception: RegExp,
): Promise<void> {
  const before = await snapshot(f);
  const r = await f.call(method, path, body);
  assert.equal(r.status, 400, `${method} ${path}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.status, "error");
  assert.deepEqual(Object.keys(r.body), ["status", "exception"]);
  assert.match(String(r.body.exception), exception, `${method} ${path}`);
  assert.equal(await snapshot(f), before, `${method} ${path} changed something`);
}

Deno.test("API refuses path traversal in the domain, raw and URL-encoded, changing nothing", async () => {
  const f = await apiFixture();
  try {
    await f.feed("198.51.100.9");
    const body = { many_uas: { max_uas: 1 } };
    for (
      const domain of [
        "..%2f..%2fetc%2fpasswd",
        "%2e%2e%2f8984",
        "..%2F8984",
        "8984%2f..",
        "%2e%2e",
      ]
    ) {
      for (const rewrite of ["", "?rewrite=1"]) {
        await refused(
          f,
          "PUT",
          `/filters/${domain}${rewrite}`,
          body,
          /not a domain id|no endpoint/,
        );
        await refused(f, "PUT", `/filters/${domain}/many_uas${rewrite}`, { max_uas: 1 }, /./);
      }
      await refused(f, "GET", `/filters/${domain}`, undefined, /not a domain id|no endpoint/);
      await refused(f, "DELETE", `/filters/${domain}?rewrite=1`, undefined, /./);
      await refused(f, "DELETE", `/bans/${domain}/198.51.100.9`, undefined, /./);
    }
    // Dot segments the URL parser resolves land on no endpoint: still a 400 error object.
    await refused(f, "PUT", "/filters/../../etc/passwd", body, /^no endpoint PUT \/etc\/passwd$/);
    await refused(f, "PUT", "/filters/%2e%2e/%2e%2e/x", body, /^no endpoint PUT \/x$/);
  } finally {
    await f.close();
  }
});

Deno.test("API refuses bad domain ids and component names, changing nothing", async () => {
  const f = await apiFixture();
  try {
    const body = { max_uas: 1 };
    for (
      const domain of [
        "-1",
        "1e3",
        "0x10",
        "4294967296",
        "12345678901",
        " 8984",
        "8984.json",
        "8984%00",
      ]
    ) {
      await refused(f, "PUT", `/filters/${domain}?rewrite=1`, {}, /is not a domain id/);
    }
    for (
      const component of [
        "..%2fmany_uas",
        "many_uas%2f..",
        "__proto__",
        "constructor",
        "MANY_UAS",
        "many_uas.json",
      ]
    ) {
      await refused(
        f,
        "PUT",
        `/filters/${DOMAIN}/${component}?rewrite=1`,
        body,
        /unknown component/,
      );
      await refused(f, "GET", `/filters/${DOMAIN}/${component}`, undefined, /unknown component/);
    }
  } finally {
    await f.close();
  }
});

Deno.test("API refuses a 5 MiB body without reading it all, changing nothing", async () => {
  const f = await apiFixture();
  try {
    const big = JSON.stringify({
      fixed_lists: { lists: [{ name: "x", type: "black", entries: ["1.2.3.4"] }] },
      pad: "x".repeat(5 << 20),
    });
    await refused(
      f,
      "PUT",
      `/filters/${DOMAIN}?rewrite=1`,
      big,
      /request body exceeds the limit of 1048576 bytes/,
    );
    await refused(f, "PUT", `/filters/${DOMAIN}/lm?rewrite=1`, big, /exceeds the limit/);
    // A streamed body with no content-length is cut off too.
    const before = await snapshot(f);
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new Uint8Array(64 << 10).fill(0x20));
      },
    });
    const response = await f.app.request(`/filters/${DOMAIN}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    assert.equal(response.status, 400);
    assert.match((await response.json()).exception, /exceeds the limit/);
    assert.equal(await snapshot(f), before);
  } finally {
    await f.close();
  }
});

Deno.test("API refuses invalid JSON and non-object bodies, changing nothing", async () => {
  const f = await apiFixture();
  try {
    for (const text of ["", "{", "{'a': 1}", '{"many_uas": {}', "nul", "[".repeat(100_000)]) {
      await refused(f, "PUT", `/filters/${DOMAIN}?rewrite=1`, text, /^invalid JSON body: /);
      await refused(f, "PUT", `/filters/${DOMAIN}/lm?rewrite=1`, text, /^invalid JSON body: /);
    }
    for (
      const [text, got] of [["null", "null"], ["[]", "an array"], ["42", "number"], [
        '"x"',
        "string",
      ]]
    ) {
      await refused(
        f,
        "PUT",
        `/filters/${DOMAIN}?rewrite=1`,
        text,
        new RegExp(`^request body must be a JSON object of components, got ${got}$`),
      );
      await refused(
        f,
        "PUT",
        `/filters/${DOMAIN}/many_uas`,
        text,
        /must be a JSON object of "many_uas" settings/,
      );
    }
  } finally {
    await f.close();
  }
});

Deno.test("API refuses wrong types, unknown components and fields, naming the path", async () => {
  const f = await apiFixture();
  try {
    const d = `/filters/${DOMAIN}?rewrite=1`;
    await refused(
      f,
      "PUT",
      d,
      { many_uas: { max_uas: "10" } },
      /^domain 8984: many_uas\.max_uas: expected a number, got string "10"$/,
    );
    await refused(
      f,
      "PUT",
      d,
      { many_uas: { max_uas: 1.5 } },
      /many_uas\.max_uas: expected an integer/,
    );
    await refused(f, "PUT", d, { many_uas: [] }, /many_uas: expected an object, got an array/);
    await refused(f, "PUT", d, { nope: {} }, /^domain 8984: nope: unknown component \(known: /);
    await refused(
      f,
      "PUT",
      d,
      JSON.parse('{"__proto__": {"enabled": false}}'),
      /unknown component/,
    );
    await refused(
      f,
      "PUT",
      d,
      { many_uas: { max_ua: 3 } },
      /many_uas: unknown field "max_ua" \(known: /,
    );
    await refused(
      f,
      "PUT",
      d,
      { fixed_lists: { lists: [{ name: "x", type: "grey" }] } },
      /fixed_lists\.lists\[0\]\.type: "grey" is not one of white, black, flags/,
    );
    await refused(
      f,
      "PUT",
      d,
      { fixed_lists: { lists: [{ name: "x", type: "black", entries: ["300.1.1.1/8"] }] } },
      /entries\[0\]/,
    );
    const lm = domainObject().lm;
    await refused(
      f,
      "PUT",
      `/filters/${DOMAIN}/lm?rewrite=1`,
      { ...lm, projections: [{ ...lm.projections[0], state: "on" }] },
      /lm\.projections\[0\]\.state: "on" is not one of/,
    );
    await refused(
      f,
      "PUT",
      `/filters/${DOMAIN}/lm?rewrite=1`,
      { ...lm, projections: [lm.projections[0], lm.projections[0]] },
      /bad/,
    );
  } finally {
    await f.close();
  }
});

Deno.test("API refuses regexes RE2 rejects (lookaround, backreferences), changing nothing", async () => {
  const f = await apiFixture();
  try {
    const lm = domainObject().lm;
    for (const pattern of ["^(?=fixed)", "(a)\\1", "(?<!x)y", "[", "a{2,1}"]) {
      await refused(
        f,
        "PUT",
        `/filters/${DOMAIN}/lm?rewrite=1`,
        { ...lm, projections: [{ ...lm.projections[0], events: pattern }] },
        /lm\.projections\[0\]\.events: not a valid RE2 regex: /,
      );
      await refused(
        f,
        "PUT",
        `/filters/${DOMAIN}?rewrite=1`,
        { location_flags: { locations: [{ path: pattern, flags: [{ flag: "x", value: true }] }] } },
        /location_flags\.locations\[0\]\.path: not a valid RE2 regex: /,
      );
    }
  } finally {
    await f.close();
  }
});

Deno.test("API refuses a config whose filters cannot be built, before writing anything", async () => {
  const f = await apiFixture();
  try {
    const lists = [
      { name: "bad", type: "black", entries: ["198.51.100.0/24"] },
      { name: "far", type: "black", file: "../../etc/passwd" },
    ];
    await refused(
      f,
      "PUT",
      `/filters/${DOMAIN}/fixed_lists?rewrite=1`,
      { lists },
      /must be a relative path/,
    );
    await refused(
      f,
      "PUT",
      `/filters/${DOMAIN}/fixed_lists?rewrite=1`,
      { lists: [{ name: "gone", type: "black", file: "missing.txt" }] },
      /Cannot load component "fixed_lists" for domain 8984: .*"gone"\.file/,
    );
    await refused(
      f,
      "PUT",
      `/filters/${DOMAIN}/fixed_lists`,
      { use: ["nope"] },
      /no list named "nope"/,
    );
  } finally {
    await f.close();
  }
});
