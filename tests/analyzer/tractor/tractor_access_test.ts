/**
 * Issue 17: TrActor's token, Host, Origin and Content-Type checks, and its state file modes.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startTractor } from "../../../src/analyzer/tractor/start_tractor.ts";
import { tractorCommand } from "../../../src/commands/tractor_command.ts";
import { CLIENTS_PCAP, processFile, tractorFixture } from "./_tractor_fixture.ts";

async function temp() {
  const root = await Deno.makeTempDir({ prefix: "qts-tractor-access-" });
  const captures = join(root, "captures");
  await Deno.mkdir(captures);
  await Deno.copyFile(CLIENTS_PCAP, join(captures, "clients.pcap"));
  return { root, captures, state: join(root, "state") };
}

Deno.test("TrActor with a token: 401 without it on every path, the page takes ?token=", async () => {
  const { root, captures, state } = await temp();
  const tractor = await startTractor({ capturesDir: captures, stateDir: state, token: "s3cret" });
  try {
    const call = async (path: string, init: RequestInit = {}) => {
      const response = await tractor.app.request(path, init);
      const text = await response.text();
      return { status: response.status, text, headers: response.headers };
    };
    for (
      const path of ["/", "/files/list", "/v1/files/list", "/labels/list", "/metrics", "/nope"]
    ) {
      const r = await call(path);
      assert.equal(r.status, 401, path);
      assert.deepEqual(JSON.parse(r.text), {
        status: 401,
        code: 401,
        message: "Unauthorized: missing or wrong bearer token",
      });
      assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer/);
      assert.equal((await call(path, { headers: { authorization: "Bearer wrong" } })).status, 401);
    }
    const process = await call("/files/process", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ file_name: "clients.pcap" }),
    });
    assert.equal(process.status, 401, "no job without the token");
    assert.equal((await tractor.store.latestJobs()).size, 0);
    const bearer = { authorization: "Bearer s3cret" };
    assert.equal((await call("/files/list", { headers: bearer })).status, 200);
    const metrics = await call("/metrics", { headers: bearer });
    assert.equal(metrics.status, 200);
    // The refused requests are counted too, by route.
    assert.match(
      metrics.text,
      /^qts_tractor_api_requests_total\{route="\/metrics",method="GET",status="401"\} 2$/m,
    );
    assert.equal((await call("/metrics?token=s3cret")).status, 401);
    assert.equal((await call("/?token=s3cret")).status, 200);
    assert.equal(
      (await call("/files/list?token=s3cret")).status,
      401,
      "?token= is for the page only",
    );
    // The page sends the token it was opened with on each call.
    const page = (await call("/", { headers: bearer })).text;
    assert.match(page, /authorization: "Bearer " \+ token/);
  } finally {
    await tractor.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("TrActor answers a foreign Host with 421 (DNS rebinding), its listen address with 200", async () => {
  const fx = await tractorFixture({ listen: true });
  try {
    const url = new URL(fx.tractor.url!);
    for (
      const host of [
        "evil.example",
        `evil.example:${url.port}`,
        `127.0.0.1.nip.example:${url.port}`,
      ]
    ) {
      const r = await fx.call("/files/list", { headers: { host } });
      assert.equal(r.status, 421, host);
      assert.equal((r.body as { code: number }).code, 421);
    }
    for (const host of [url.host, `localhost:${url.port}`, `[::1]:${url.port}`]) {
      assert.equal((await fx.call("/files/list", { headers: { host } })).status, 200, host);
    }
    // Over a socket, as a browser or curl reaches it.
    const real = await fetch(new URL("files/list", url));
    assert.equal(real.status, 200);
    await real.body?.cancel();
  } finally {
    await fx.close();
  }
});

Deno.test("TrActor answers only --allow-host names besides its address", async () => {
  const { root, captures, state } = await temp();
  const tractor = await startTractor({
    capturesDir: captures,
    stateDir: state,
    listen: { hostname: "127.0.0.1", port: 0 },
    allowedHosts: ["tractor.example.net"],
  });
  try {
    const status = async (host: string) => {
      const response = await tractor.app.request("/files/list", { headers: { host } });
      await response.body?.cancel();
      return response.status;
    };
    assert.equal(await status("tractor.example.net"), 200);
    assert.equal(await status("tractor.example.net:443"), 200);
    assert.equal(await status("other.example.net"), 421);
  } finally {
    await tractor.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("TrActor refuses a POST from a foreign Origin (403) or not as JSON (415); no job starts", async () => {
  const fx = await tractorFixture();
  try {
    const body = JSON.stringify({ file_name: "clients.pcap" });
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]) {
      const r = await fx.call("/files/process", {
        method: "POST",
        headers: { "content-type": type },
        body,
      });
      assert.equal(r.status, 415, type);
    }
    const foreign = await fx.call("/files/process", {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://evil.example" },
      body,
    });
    assert.equal(foreign.status, 403);
    assert.equal((await fx.tractor.store.latestJobs()).size, 0, "no job was queued");
    // Its own page (same origin) may.
    const own = await fx.call("/files/process", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        origin: "http://localhost",
        host: "localhost",
      },
      body,
    });
    assert.equal(own.status, 200);
    await fx.tractor.runner.waitFor((own.body as { job_id: number }).job_id);
  } finally {
    await fx.close();
  }
});

Deno.test("TrActor state: directory 0700, database, its WAL and the lock 0600", async () => {
  if (Deno.build.os === "windows") return;
  const { root, captures } = await temp();
  const fresh = join(root, "fresh-state");
  const tractor = await startTractor({ capturesDir: captures, stateDir: fresh });
  const fx = {
    tractor,
    root,
    captures,
    state: fresh,
    call: async (path: string, init?: RequestInit) => {
      const response = await tractor.app.request(path, init);
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch { /* the page */ }
      return { status: response.status, body, headers: response.headers };
    },
    close: () => tractor.close(),
  };
  try {
    await processFile(fx, "clients.pcap");
    const mode = (path: string) => (Deno.statSync(path).mode ?? 0) & 0o777;
    assert.equal(mode(fresh), 0o700, "state directory");
    for (
      const name of ["tractor.sqlite", "tractor.sqlite-wal", "tractor.sqlite-shm", "tractor.lock"]
    ) {
      const path = join(fresh, name);
      try {
        Deno.statSync(path);
      } catch {
        continue; // SQLite made no such file
      }
      assert.equal(mode(path), 0o600, name);
    }
  } finally {
    await tractor.close();
  }
  // A database left 0644 by an older version is made 0600 at start.
  await Deno.chmod(join(fresh, "tractor.sqlite"), 0o644);
  const again = await startTractor({ capturesDir: captures, stateDir: fresh });
  try {
    assert.equal((Deno.statSync(join(fresh, "tractor.sqlite")).mode ?? 0) & 0o777, 0o600);
  } finally {
    await again.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("qts tractor wants a token off loopback (exit 2) and reads --token-file", async () => {
  const { root, captures, state } = await temp();
  const errors: string[] = [];
  const { error } = console;
  console.error = (s: string) => errors.push(s);
  try {
    const code = await tractorCommand([
      "--captures",
      captures,
      "--state",
      state,
      "--listen",
      "0.0.0.0:0",
    ]);
    assert.equal(code, 2);
    assert.match(errors.join("\n"), /--token .* is required when --listen \(0\.0\.0\.0\)/);
    await assert.rejects(
      startTractor({
        capturesDir: captures,
        stateDir: state,
        listen: { hostname: "0.0.0.0", port: 0 },
      }),
      /A token is required to listen on 0\.0\.0\.0/,
    );
    const empty = join(root, "empty-token");
    await Deno.writeTextFile(empty, "\n");
    errors.length = 0;
    assert.equal(
      await tractorCommand(["--captures", captures, "--state", state, "--token-file", empty]),
      2,
    );
    assert.match(errors.join("\n"), /is empty/);
    errors.length = 0;
    assert.equal(
      await tractorCommand([
        "--captures",
        captures,
        "--state",
        state,
        "--token",
        "a",
        "--token-file",
        empty,
      ]),
      2,
    );
    assert.match(errors.join("\n"), /not both/);
  } finally {
    console.error = error;
    await Deno.remove(root, { recursive: true });
  }
});
