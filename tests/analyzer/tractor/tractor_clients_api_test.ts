import assert from "node:assert/strict";
import {
  HTTP_CLIENTS,
  HTTP_CLIENTS_PCAP,
  processFile,
  type TractorFixture,
  tractorFixture,
} from "./_tractor_fixture.ts";

type Json = Record<string, unknown>;

const NAME = "http-clients.pcap.gz";
const HOST = "http://www.qts.test";

/** A TrActor over the real HTTP capture, processed; `fn` gets it and the job id. */
async function withJob(fn: (fx: TractorFixture, id: number) => Promise<void>): Promise<void> {
  const fx = await tractorFixture({ copies: { [NAME]: HTTP_CLIENTS_PCAP } });
  try {
    await fn(fx, await processFile(fx, NAME));
  } finally {
    await fx.close();
  }
}

async function json(fx: TractorFixture, path: string): Promise<{ body: Json[]; total: number }> {
  const r = await fx.call(path);
  assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
  return { body: r.body as Json[], total: Number(r.headers.get("x-total-count")) };
}

function assert400(r: { status: number; body: unknown }, pattern: RegExp): void {
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.match((r.body as Json).message as string, pattern);
}

Deno.test("GET clients ranks by requests: the keep-alive crawler first, flows shown beside", async () => {
  await withJob(async (fx, id) => {
    const { body, total } = await json(fx, `/v1/file/${id}/clients`);
    assert.equal(total, 4);
    assert.deepEqual(body.map((c) => [c.ip, c.requests, c.flows]), [
      [HTTP_CLIENTS.crawler, 200, 1],
      [HTTP_CLIENTS.rotator, 30, 30],
      [HTTP_CLIENTS.browser, 4, 4],
      [HTTP_CLIENTS.legacy, 3, 1],
    ]);
    const crawler = body[0]!;
    assert.deepEqual(crawler.urls, [{ url: `${HOST}/api/items`, requests: 200 }]);
    assert.deepEqual(crawler.status_codes, [{ status: 200, responses: 200 }]);
    assert.deepEqual(crawler.hosts, [{ host: "www.qts.test", requests: 200 }]);
    assert.deepEqual(crawler.labels, [{ label: "http", flows: 1 }]);
    assert.equal(crawler.user_agents_distinct, 1);
    // Units: bytes and packets are the flows' sums; the duration spans first to last packet.
    const flows = await json(fx, `/file/${id}/flows?client_ip=${HTTP_CLIENTS.crawler}`);
    const f = flows.body[0]!;
    assert.equal(crawler.bytes, f.bytes);
    assert.equal(crawler.packets, f.packets);
    assert.equal(crawler.duration_ms, f.duration_ms);
    assert.ok((crawler.bytes as number) > 200 * 300, `${crawler.bytes} bytes for 200 exchanges`);
    // The rotator: ten agents, top five by count on the page, all of them in its details.
    const rotator = body[1]!;
    assert.equal(rotator.user_agents_distinct, 10);
    assert.equal((rotator.user_agents as Json[]).length, 5);
    for (const ua of rotator.user_agents as Json[]) assert.equal(ua.requests, 3);
    // The legacy client's status codes, each answered once.
    assert.deepEqual(
      (body[3]!.status_codes as Json[]).map((s) => s.status).sort(),
      [200, 301, 405],
    );
  });
});

Deno.test("GET clients sorts by any whitelisted column, pages, and refuses anything else", async () => {
  await withJob(async (fx, id) => {
    const order = async (q: string) =>
      (await json(fx, `/file/${id}/clients?${q}`)).body.map((c) => c.ip);
    assert.deepEqual(await order("sort=flows"), [
      HTTP_CLIENTS.rotator,
      HTTP_CLIENTS.browser,
      HTTP_CLIENTS.crawler, // one flow each: more bytes first
      HTTP_CLIENTS.legacy,
    ]);
    assert.deepEqual(await order("sort=ip"), Object.values(HTTP_CLIENTS).sort());
    assert.deepEqual(
      await order("sort=ip&order=desc"),
      Object.values(HTTP_CLIENTS).sort().reverse(),
    );
    assert.deepEqual((await order("sort=user_agents"))[0], HTTP_CLIENTS.rotator);
    const bytes = (await json(fx, `/file/${id}/clients?sort=bytes&order=asc`)).body
      .map((c) => c.bytes as number);
    assert.deepEqual(bytes, [...bytes].sort((a, b) => a - b));
    const page = await json(fx, `/file/${id}/clients?limit=2&offset=1&top=1`);
    assert.equal(page.total, 4);
    assert.deepEqual(page.body.map((c) => c.ip), [HTTP_CLIENTS.rotator, HTTP_CLIENTS.browser]);
    assert.equal((page.body[0]!.user_agents as Json[]).length, 1);
    for (const q of ["sort=requests;DROP TABLE flows", "sort=label", "sort=bytes%20DESC"]) {
      assert400(await fx.call(`/file/${id}/clients?${q}`), /"sort" must be one of ip, flows/);
    }
    assert400(await fx.call(`/file/${id}/clients?sort=`), /"sort"/);
    assert400(await fx.call(`/file/${id}/clients?order=up`), /"order" must be one of asc, desc/);
    assert400(await fx.call(`/file/${id}/clients?limit=1001`), /"limit"/);
    assert.equal((await fx.call(`/file/999/clients`)).status, 404);
  });
});

Deno.test("GET statistics/ip lists every User-Agent of a client with its request count", async () => {
  await withJob(async (fx, id) => {
    const r = await fx.call(`/file/${id}/statistics/ip?ip=${HTTP_CLIENTS.rotator}`);
    assert.equal(r.status, 200);
    const b = r.body as Json;
    const agents = b.user_agents as Json[];
    assert.equal(agents.length, 10);
    const expected = Array.from(
      { length: 10 },
      (_, i) => `Mozilla/5.0 (Windows NT 10.0; Win64; x64) rotator/${i + 1}.0`,
    ).sort();
    assert.deepEqual(agents.map((a) => a.user_agent), expected);
    assert.ok(agents.every((a) => a.requests === 3));
    assert.equal(typeof b.user_agent, "string", "the seed's single user_agent is kept");
    assert.deepEqual(b.client && (b.client as Json).requests, 30);
    // A server is no client: no client block, no HTTP lists.
    const server = (await fx.call(`/file/${id}/statistics/ip?ip=127.78.0.1`)).body as Json;
    assert.equal("client" in server, false);
    assert.equal("user_agents" in server, false);
  });
});

Deno.test("GET flows lists a client's flows with units, paged, filtered by label too", async () => {
  await withJob(async (fx, id) => {
    const all = await json(fx, `/file/${id}/flows?client_ip=${HTTP_CLIENTS.rotator}&limit=100`);
    assert.equal(all.total, 30);
    const page = await json(
      fx,
      `/file/${id}/flows?client_ip=${HTTP_CLIENTS.rotator}&limit=10&offset=10`,
    );
    assert.equal(page.total, 30);
    assert.deepEqual(page.body, all.body.slice(10, 20));
    const f = page.body[0]!;
    assert.deepEqual(Object.keys(f).sort(), [
      "bytes",
      "client_ip",
      "client_port",
      "comment",
      "domain_name",
      "duration_ms",
      "end_unix_ms",
      "flow_id",
      "label",
      "packets",
      "protocol",
      "requests",
      "server_ip",
      "server_port",
      "start_unix_ms",
      "user_agent",
    ]);
    assert.equal(f.client_ip, HTTP_CLIENTS.rotator);
    assert.equal(f.requests, 1);
    assert.equal(f.duration_ms, (f.end_unix_ms as number) - (f.start_unix_ms as number));
    const starts = all.body.map((x) => x.start_unix_ms as number);
    assert.deepEqual(starts, [...starts].sort((a, b) => a - b));
    assert.equal((await json(fx, `/file/${id}/flows?label=http`)).total, 36);
    assert.equal((await json(fx, `/file/${id}/flows?label=ssh`)).total, 0);
    assert.equal((await json(fx, `/file/${id}/flows`)).total, 36);
    assert400(await fx.call(`/file/${id}/flows?client_ip=nope`), /not an IP address/);
  });
});

Deno.test("GET timeline gives flows and bytes per label and time bucket, summing to the job", async () => {
  await withJob(async (fx, id) => {
    const r = await fx.call(`/file/${id}/timeline`);
    assert.equal(r.status, 200);
    const t = r.body as { bucket_ms: number; buckets: Json[] };
    assert.ok(t.bucket_ms >= 100, `bucket ${t.bucket_ms} ms`);
    const starts = new Set(t.buckets.map((b) => b.start_unix_ms as number));
    assert.ok(starts.size >= 5, `${starts.size} buckets over the ~10 s capture`);
    for (const s of starts) assert.equal(s % t.bucket_ms, 0, "buckets are aligned");
    const flows = (await json(fx, `/file/${id}/flows?limit=100`)).body;
    const sum = (xs: Json[], k: string) => xs.reduce((a, x) => a + (x[k] as number), 0);
    assert.equal(sum(t.buckets, "flows"), flows.length);
    assert.equal(sum(t.buckets, "bytes"), sum(flows, "bytes"));
    // Each flow is counted in the bucket of its start.
    for (const f of flows) {
      const start = Math.floor((f.start_unix_ms as number) / t.bucket_ms) * t.bucket_ms;
      assert.ok(starts.has(start), `bucket for flow ${f.flow_id}`);
    }
  });
});
