import assert from "node:assert/strict";
import { join } from "node:path";
import { CLIENTS_PCAP, type TractorFixture, tractorFixture } from "./_tractor_fixture.ts";

type Json = Record<string, unknown>;

function assertError(r: { status: number; body: unknown }, status: number, what: string): void {
  assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
  const b = r.body as Json;
  assert.deepEqual(Object.keys(b).sort(), ["code", "message", "status"], what);
  assert.equal(b.status, status, what);
  assert.equal(b.code, status, what);
  assert.equal(typeof b.message, "string", what);
}

/** Everything a rejected request must leave alone: jobs, files, peek cache. */
async function snapshot(fx: TractorFixture): Promise<string> {
  const db = fx.tractor.store.sql;
  return JSON.stringify([
    await db.all("SELECT * FROM jobs ORDER BY id"),
    await db.get("SELECT count(*) AS n FROM flows"),
    [...Deno.readDirSync(fx.captures)].map((e) => e.name).sort(),
  ]);
}

function post(fx: TractorFixture, body: BodyInit, headers: Record<string, string> = {}) {
  return fx.call("/files/process", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
}

Deno.test("POST /files/process refuses names outside the repository with 404 and changes nothing", async () => {
  const fx = await tractorFixture();
  const outside = await Deno.makeTempDir({ prefix: "qts-tractor-outside-" });
  try {
    await Deno.copyFile(CLIENTS_PCAP, join(outside, "secret.pcap"));
    await Deno.writeTextFile(join(fx.captures, "notes.txt"), "not a capture");
    await Deno.mkdir(join(fx.captures, "dir.pcap"));
    await Deno.copyFile(CLIENTS_PCAP, join(fx.captures, ".hidden.pcap"));
    await Deno.symlink(join(outside, "secret.pcap"), join(fx.captures, "link-out.pcap"));
    await Deno.symlink("../../../", join(fx.captures, "up.pcap"));
    await Deno.symlink("missing.pcap", join(fx.captures, "dangling.pcap"));
    const before = await snapshot(fx);
    const names = [
      "../captures/clients.pcap",
      "../state/tractor.sqlite",
      "..",
      ".",
      "/etc/passwd",
      join(outside, "secret.pcap"),
      "./clients.pcap",
      "clients.pcap/",
      "..\\clients.pcap",
      "clients.pcap\u0000.pcap",
      "%2e%2e%2fclients.pcap",
      "notes.txt",
      "dir.pcap",
      ".hidden.pcap",
      "link-out.pcap",
      "up.pcap",
      "dangling.pcap",
      "missing.pcap",
      "x".repeat(300) + ".pcap",
    ];
    for (const name of names) {
      assertError(await post(fx, JSON.stringify({ file_name: name })), 404, name);
    }
    assert.equal(await snapshot(fx), before);
    // None of them is listed either.
    const listed = ((await fx.call("/files/list")).body as Json[]).map((f) => f.name);
    assert.deepEqual(listed, ["clients.pcap", "loopback.pcapng"]);
  } finally {
    await fx.close();
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("a symlink to a capture inside the repository is a capture", async () => {
  const fx = await tractorFixture();
  try {
    await Deno.symlink("clients.pcap", join(fx.captures, "alias.pcap"));
    const r = await post(fx, JSON.stringify({ file_name: "alias.pcap" }));
    assert.equal(r.status, 200);
    await fx.tractor.runner.waitFor((r.body as Json).job_id as number);
  } finally {
    await fx.close();
  }
});

Deno.test("POST /files/process answers bad bodies with 400/413 in the seed's error shape", async () => {
  const fx = await tractorFixture();
  try {
    const before = await snapshot(fx);
    const bad: [BodyInit, string][] = [
      ["", "empty body"],
      ["{", "truncated JSON"],
      ["not json", "text"],
      ["[]", "array"],
      ["null", "null"],
      ['"clients.pcap"', "string"],
      ["{}", "no file_name"],
      ['{"file_name": 7}', "number"],
      ['{"file_name": ""}', "empty name"],
      ['{"file_name": ["clients.pcap"]}', "list"],
      ['{"file_name": "clients.pcap", "force": "yes"}', "bad force"],
      [new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), "invalid UTF-8"],
      ["[".repeat(5000) + "]".repeat(5000), "deep nesting"],
    ];
    for (const [body, what] of bad) assertError(await post(fx, body), 400, what);
    const huge = JSON.stringify({ file_name: "clients.pcap", pad: "x".repeat(2 * 1024 * 1024) });
    assertError(await post(fx, huge), 413, "huge body");
    // A body bigger than its Content-Length claims is still cut off.
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 100; i++) c.enqueue(new Uint8Array(4096).fill(0x20));
        c.close();
      },
    });
    assertError(await post(fx, stream), 413, "streamed body");
    assert.equal(await snapshot(fx), before);
  } finally {
    await fx.close();
  }
});

Deno.test("hostile query parameters get 400 or 404 in the seed's shape and change nothing", async () => {
  const fx = await tractorFixture();
  try {
    const r = await post(fx, JSON.stringify({ file_name: "clients.pcap" }));
    const id = (r.body as Json).job_id as number;
    await fx.tractor.runner.waitFor(id);
    const before = await snapshot(fx);
    const cases: [string, number][] = [
      [`/file/${id}/statistics/ip?ip=198.51.100.7'%20OR%201=1--`, 400],
      [`/file/${id}/statistics/ip?ip=${"1".repeat(5000)}`, 400],
      [`/file/${id}/statistics/ip?ip=::ffff:zz`, 400],
      [`/file/${id}/statistics/ip?ip=`, 400],
      [`/file/${id}/flows/labels?label=http'%3B%20DROP%20TABLE%20flows%3B--`, 200],
      [`/file/${id}/statistics/labels?label=%00`, 200],
      [`/file/${id}/flows/labels?label=http&offset=-1`, 400],
      [`/file/${id}%2f..%2fstatus`, 404],
      [`/file/${id}/status/../details`, 200],
      ["/file/1;DROP/status", 404],
    ];
    for (const [path, status] of cases) {
      const res = await fx.call(path);
      if (status === 200) assert.equal(res.status, 200, path);
      else assertError(res, status, path);
    }
    assert.equal(await snapshot(fx), before);
    const flows = (await fx.call(`/file/${id}/flows/labels?label=http`)).body as Json[];
    assert.equal(flows.length, 2);
  } finally {
    await fx.close();
  }
});
