import assert from "node:assert/strict";
import { CLIENTS, HTTP_HOST, SERVERS, T0, USER_AGENT } from "./_clients_capture.ts";
import { noGeoIp } from "../../../src/shared/geo/geoip.ts";
import { CaptureRepository } from "../../../src/analyzer/tractor/capture_repository.ts";
import { createTractorApi } from "../../../src/analyzer/tractor/tractor_api.ts";
import { CLIENTS_PCAP, processFile, tractorFixture } from "./_tractor_fixture.ts";

type Json = Record<string, unknown>;

const FILE_KEYS = [
  "name",
  "extension",
  "time_start",
  "time_end",
  "status",
  "size",
  "size_bytes",
  "flows_count",
];
const STATUS_KEYS = ["state", "started_at", "finished_at", "job_id", "progress", "message"];
const STATES = ["new", "in_progress", "finished", "failed"];

function assertFile(f: unknown): asserts f is Json {
  assert.ok(f !== null && typeof f === "object");
  const o = f as Json;
  for (const k of Object.keys(o)) assert.ok(FILE_KEYS.includes(k), `unexpected File key ${k}`);
  assert.equal(typeof o.name, "string");
  assert.equal(typeof o.extension, "string");
  assert.ok(Number.isInteger(o.time_start));
  assert.ok(Number.isInteger(o.time_end));
  assert.ok(Number.isInteger(o.size));
  if ("flows_count" in o) assert.ok(Number.isInteger(o.flows_count));
  assertStatus(o.status);
}

function assertStatus(s: unknown): asserts s is Json {
  assert.ok(s !== null && typeof s === "object");
  const o = s as Json;
  for (const k of Object.keys(o)) assert.ok(STATUS_KEYS.includes(k), `unexpected status key ${k}`);
  assert.ok(STATES.includes(o.state as string), `state ${o.state}`);
  for (const k of ["started_at", "finished_at", "job_id", "progress"]) {
    if (k in o) assert.ok(Number.isInteger(o[k]), `${k} is an integer`);
  }
}

function assertError(r: { status: number; body: unknown }, status: number): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  const b = r.body as Json;
  assert.deepEqual(Object.keys(b).sort(), ["code", "message", "status"]);
  assert.equal(b.status, status);
  assert.equal(b.code, status);
  assert.equal(typeof b.message, "string");
  if (status === 404) assert.equal(b.message, "Not found");
}

const expectedStatistics = [
  {
    title: "protocols",
    content: [
      { label: "http", count: 2 },
      { label: "vk", count: 2 },
      { label: "ssh", count: 1 },
    ],
  },
  {
    title: "clients",
    content: [
      { label: CLIENTS.chicago, count: 2 },
      { label: CLIENTS.moscow, count: 2 },
      { label: CLIENTS.amsterdam, count: 1 },
    ],
  },
];

Deno.test("GET /files/list lists the repository's captures as the seed's File before processing", async () => {
  const fx = await tractorFixture();
  try {
    for (const prefix of ["", "/v1"]) {
      const r = await fx.call(`${prefix}/files/list`);
      assert.equal(r.status, 200);
      const list = r.body as Json[];
      assert.deepEqual(list.map((f) => f.name), ["clients.pcap", "loopback.pcapng"]);
      list.forEach(assertFile);
      const clients = list[0]!;
      assert.equal(clients.extension, "pcap");
      assert.equal(clients.time_start, T0);
      assert.ok((clients.time_end as number) >= T0);
      const bytes =
        (await Deno.stat(new URL("../../fixtures/tractor/clients.pcap", import.meta.url))).size;
      assert.equal(clients.size, Math.ceil(bytes / 1024), "the seed's size, in kB");
      assert.equal(clients.size_bytes, bytes, "ours, with its unit in its name");
      assert.deepEqual(clients.status, { state: "new" });
      assert.equal("flows_count" in clients, false);
      assert.equal(list[1]!.extension, "pcapng");
    }
  } finally {
    await fx.close();
  }
});

Deno.test("POST /files/process runs a job to finished; status, details and statistics as the seed", async () => {
  const fx = await tractorFixture();
  try {
    const post = await fx.call("/v1/files/process", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ file_name: "clients.pcap" }),
    });
    assert.equal(post.status, 200);
    assertStatus(post.body);
    const first = post.body as Json;
    assert.equal(first.state, "in_progress");
    assert.ok(Number.isInteger(first.started_at));
    const id = first.job_id as number;
    assert.ok(Number.isInteger(id));
    await fx.tractor.runner.waitFor(id);

    for (const prefix of ["", "/v1"]) {
      const status = await fx.call(`${prefix}/file/${id}/status`);
      assert.equal(status.status, 200);
      assertStatus(status.body);
      assert.deepEqual(Object.keys(status.body as Json).sort(), [
        "finished_at",
        "job_id",
        "started_at",
        "state",
      ]);
      assert.equal((status.body as Json).state, "finished");
      assert.equal((status.body as Json).job_id, id);

      const details = await fx.call(`${prefix}/file/${id}/details`);
      assert.equal(details.status, 200);
      assertFile(details.body);
      const d = details.body as Json;
      assert.equal(d.name, "clients.pcap");
      assert.equal(d.extension, "pcap");
      assert.equal(d.time_start, T0);
      assert.equal(d.time_end, T0 + 4);
      assert.equal(d.flows_count, 5);
      assert.equal(d.size, 3);
      assert.deepEqual(d.status, status.body);

      const stats = await fx.call(`${prefix}/file/${id}/statistics`);
      assert.equal(stats.status, 200);
      assert.deepEqual(stats.body, expectedStatistics);
    }

    const list = (await fx.call("/files/list")).body as Json[];
    const clients = list.find((f) => f.name === "clients.pcap")!;
    assertFile(clients);
    assert.equal(clients.flows_count, 5);
    assert.equal(clients.time_start, T0);
    assert.equal(clients.time_end, T0 + 4);
    assert.equal((clients.status as Json).job_id, id);
    assert.equal((clients.status as Json).state, "finished");
  } finally {
    await fx.close();
  }
});

Deno.test("GET statistics/labels counts the flows of a label or of a label group", async () => {
  const fx = await tractorFixture();
  try {
    const id = await processFile(fx, "clients.pcap");
    const http = await fx.call(`/file/${id}/statistics/labels?label=http`);
    assert.equal(http.status, 200);
    assert.deepEqual(http.body, [
      { title: "protocols", content: [{ label: "http", count: 2 }] },
      { title: "clients", content: [{ label: CLIENTS.chicago, count: 2 }] },
    ]);
    // A group name selects the labels of the group (config/labels.yaml: vk is "social").
    const social = await fx.call(`/v1/file/${id}/statistics/labels?label=social`);
    assert.equal(social.status, 200);
    assert.deepEqual(social.body, [
      { title: "protocols", content: [{ label: "vk", count: 2 }] },
      { title: "clients", content: [{ label: CLIENTS.moscow, count: 2 }] },
    ]);
    const other = await fx.call(`/file/${id}/statistics/labels?label=other`);
    assert.deepEqual(other.body, [
      { title: "protocols", content: [{ label: "http", count: 2 }, { label: "ssh", count: 1 }] },
      {
        title: "clients",
        content: [{ label: CLIENTS.chicago, count: 2 }, { label: CLIENTS.amsterdam, count: 1 }],
      },
    ]);
    const none = await fx.call(`/file/${id}/statistics/labels?label=facebook`);
    assert.equal(none.status, 200);
    assert.deepEqual(none.body, [
      { title: "protocols", content: [] },
      { title: "clients", content: [] },
    ]);
  } finally {
    await fx.close();
  }
});

Deno.test("GET statistics/ip gives country and city from the city database, user agent, domain", async () => {
  const fx = await tractorFixture();
  try {
    const id = await processFile(fx, "clients.pcap");
    const chicago = await fx.call(`/file/${id}/statistics/ip?ip=${CLIENTS.chicago}`);
    assert.equal(chicago.status, 200);
    assert.deepEqual(chicago.body, {
      country: "US",
      city: "Chicago",
      user_agent: USER_AGENT,
      domain_name: HTTP_HOST,
      statistics: [
        { title: "protocols", content: [{ label: "http", count: 2 }] },
        { title: "clients", content: [{ label: CLIENTS.chicago, count: 2 }] },
      ],
      // Ours: what it did as a client, and every HTTP value with its count.
      client: {
        flows: 2,
        packets: 16,
        bytes: 965,
        requests: 2,
        duration_ms: 1080,
        user_agents_distinct: 1,
      },
      user_agents: [{ user_agent: USER_AGENT, requests: 2 }],
      hosts: [{ host: HTTP_HOST, requests: 2 }],
      urls: [
        { url: `http://${HTTP_HOST}/`, requests: 1 },
        { url: `http://${HTTP_HOST}/about`, requests: 1 },
      ],
      status_codes: [{ status: 200, responses: 2 }],
    });
    const moscow = (await fx.call(`/v1/file/${id}/statistics/ip?ip=${CLIENTS.moscow}`))
      .body as Json;
    assert.equal(moscow.country, "RU");
    assert.equal(moscow.city, "Moscow");
    assert.equal(moscow.domain_name, "vk.com");
    assert.equal("user_agent" in moscow, false);
    // A server: its clients, and the name they called it by.
    const web = (await fx.call(`/file/${id}/statistics/ip?ip=${SERVERS.web}`)).body as Json;
    assert.equal(web.country, "DE");
    assert.equal(web.city, "Berlin");
    assert.equal(web.domain_name, HTTP_HOST);
    // IPv6 in any spelling.
    for (const spelling of [CLIENTS.amsterdam, "2001:0db8:0:0:0:0:0:5", "2001:DB8::5"]) {
      const v6 = await fx.call(`/file/${id}/statistics/ip?ip=${encodeURIComponent(spelling)}`);
      assert.equal(v6.status, 200, spelling);
      assert.equal((v6.body as Json).country, "NL");
      assert.equal((v6.body as Json).city, "Amsterdam");
    }
    assertError(await fx.call(`/file/${id}/statistics/ip?ip=192.0.2.99`), 404);
    assertError(await fx.call(`/file/${id}/statistics/ip?ip=not-an-ip`), 400);
    assertError(await fx.call(`/file/${id}/statistics/ip?ip=1.2.3.256`), 400);
    assertError(await fx.call(`/file/${id}/statistics/ip`), 400);
  } finally {
    await fx.close();
  }
});

Deno.test("GET flows/labels lists the seed's DetailsLabelItem for a label, paged", async () => {
  const fx = await tractorFixture();
  try {
    const id = await processFile(fx, "clients.pcap");
    const r = await fx.call(`/file/${id}/flows/labels?label=http`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-total-count"), "2");
    assert.deepEqual(r.body, [
      {
        client_ip: CLIENTS.chicago,
        client_port: 40001,
        server_ip: SERVERS.web,
        server_port: 80,
        time_start: T0,
        time_end: T0,
        comment: `http ${HTTP_HOST}; session 1`,
      },
      {
        client_ip: CLIENTS.chicago,
        client_port: 40002,
        server_ip: SERVERS.web,
        server_port: 80,
        time_start: T0 + 1,
        time_end: T0 + 1,
        comment: `http ${HTTP_HOST}; session 1`,
      },
    ]);
    const page = await fx.call(`/v1/file/${id}/flows/labels?label=http&limit=1&offset=1`);
    assert.equal((page.body as Json[]).length, 1);
    assert.equal((page.body as Json[])[0]!.client_port, 40002);
    // The DNS query and the TLS connection for vk.com are both the application "vk".
    const vk = (await fx.call(`/file/${id}/flows/labels?label=vk`)).body as Json[];
    assert.deepEqual(vk.map((f) => [f.server_port, String(f.comment).split(";")[0]]), [
      [53, "dns vk.com"],
      [443, "tls vk.com"],
    ]);
    const ssh = (await fx.call(`/file/${id}/flows/labels?label=ssh`)).body as Json[];
    assert.deepEqual(
      ssh.map((f) => [f.client_ip, f.server_ip, f.server_port]),
      [[CLIENTS.amsterdam, SERVERS.ssh, 22]],
    );
    assertError(await fx.call(`/file/${id}/flows/labels?label=http&limit=x`), 400);
    assertError(await fx.call(`/file/${id}/flows/labels?label=http&limit=1000001`), 400);
  } finally {
    await fx.close();
  }
});

Deno.test("GET /labels/list gives the label groups, and every label a job produced", async () => {
  const fx = await tractorFixture();
  try {
    const id = await processFile(fx, "loopback.pcapng");
    const r = await fx.call("/labels/list");
    assert.equal(r.status, 200);
    const groups = r.body as { group_name: string; labels: string[] }[];
    assert.ok(groups.length >= 4);
    for (const g of groups) {
      assert.deepEqual(Object.keys(g).sort(), ["group_name", "labels"]);
      assert.equal(typeof g.group_name, "string");
      assert.ok(g.labels.every((l) => typeof l === "string"));
    }
    assert.deepEqual(groups.slice(0, 2).map((g) => g.group_name), ["social", "peer2peer"]);
    const all = new Set(groups.flatMap((g) => g.labels));
    const stats = (await fx.call(`/file/${id}/statistics`)).body as {
      content: { label: string }[];
    }[];
    for (const { label } of stats[0]!.content) assert.ok(all.has(label), `label ${label} listed`);
    assert.deepEqual((await fx.call("/v1/labels/list")).body, r.body);
  } finally {
    await fx.close();
  }
});

Deno.test("/file/{job_id}/… answers 404 in the seed's shape for unknown and malformed job ids", async () => {
  const fx = await tractorFixture();
  try {
    const id = await processFile(fx, "clients.pcap");
    const endpoints = [
      "status",
      "details",
      "statistics",
      "statistics/labels?label=http",
      "statistics/ip?ip=198.51.100.7",
      "flows/labels?label=http",
    ];
    for (const jobId of [id + 1, 999999, "abc", "0", "-1", "1e3", "01", "99999999999999999999"]) {
      for (const e of endpoints) {
        assertError(await fx.call(`/file/${jobId}/${e}`), 404);
        assertError(await fx.call(`/v1/file/${jobId}/${e}`), 404);
      }
    }
    assertError(await fx.call("/nowhere"), 404);
    assertError(await fx.call("/v1/files/list/extra"), 404);
    assertError(await fx.call("/files/list", { method: "DELETE" }), 404);
    assertError(await fx.call(`/file/${id}/statistics/labels`), 400);
    assertError(await fx.call(`/file/${id}/statistics/labels?label=`), 400);
    assertError(await fx.call(`/file/${id}/statistics/labels?label=a&label=b`), 400);
    assertError(await fx.call(`/file/${id}/flows/labels`), 400);
    assertError(await fx.call(`/v1/file/${id}/flows/labels?label=${"x".repeat(2000)}`), 400);
  } finally {
    await fx.close();
  }
});

Deno.test("statistics of a job that has not finished are 404; a queued job reports state new", async () => {
  const fx = await tractorFixture();
  try {
    // A job row nobody runs: the runner only picks up what submit() or start() queue.
    const job = await fx.tractor.store.createJob(
      { name: "clients.pcap", extension: "pcap", sizeBytes: 3033, mtimeMs: 0 },
      T0,
    );
    const status = await fx.call(`/file/${job.id}/status`);
    assert.deepEqual(status.body, { state: "new", job_id: job.id });
    assertError(await fx.call(`/file/${job.id}/statistics`), 404);
    assertError(await fx.call(`/file/${job.id}/flows/labels?label=http`), 404);
    const details = await fx.call(`/file/${job.id}/details`);
    assert.equal(details.status, 200);
    assertFile(details.body);
  } finally {
    await fx.close();
  }
});

Deno.test("POST /files/process again reuses a finished job; force replaces it deterministically", async () => {
  const fx = await tractorFixture();
  try {
    const id = await processFile(fx, "clients.pcap");
    const stats = (await fx.call(`/file/${id}/statistics`)).body;
    const again = await fx.call("/files/process", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ file_name: "clients.pcap" }),
    });
    assert.equal(again.status, 200);
    assert.equal((again.body as Json).job_id, id);
    assert.equal((again.body as Json).state, "finished");

    const forced = await fx.call("/files/process", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ file_name: "clients.pcap", force: true }),
    });
    const id2 = (forced.body as Json).job_id as number;
    assert.ok(id2 > id);
    await fx.tractor.runner.waitFor(id2);
    assert.deepEqual((await fx.call(`/file/${id2}/statistics`)).body, stats);
    assertError(await fx.call(`/file/${id}/status`), 404);

    // A changed file is processed anew without force.
    const path = `${fx.captures}/clients.pcap`;
    await Deno.utime(path, new Date(), new Date(Date.now() + 5000));
    const changed = await fx.call("/files/process", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ file_name: "clients.pcap" }),
    });
    const id3 = (changed.body as Json).job_id as number;
    assert.ok(id3 > id2);
    await fx.tractor.runner.waitFor(id3);
    assert.deepEqual((await fx.call(`/file/${id3}/statistics`)).body, stats);
  } finally {
    await fx.close();
  }
});

Deno.test("a capture that is not a capture fails its job with a message", async () => {
  const fx = await tractorFixture({ copies: {} });
  try {
    await Deno.writeFile(`${fx.captures}/junk.pcap`, new TextEncoder().encode("not a pcap at all"));
    const id = await processFile(fx, "junk.pcap");
    const s = (await fx.call(`/file/${id}/status`)).body as Json;
    assertStatus(s);
    assert.equal(s.state, "failed");
    assert.ok(Number.isInteger(s.finished_at));
    assert.match(String(s.message), /capture/);
    assertError(await fx.call(`/file/${id}/statistics`), 404);
    const list = (await fx.call("/files/list")).body as Json[];
    assert.equal((list[0]!.status as Json).state, "failed");
  } finally {
    await fx.close();
  }
});

Deno.test("GET / serves the page: HTML with inline script and style, nothing from the internet", async () => {
  const fx = await tractorFixture();
  try {
    const res = await fx.tractor.app.request("/");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    const html = await res.text();
    assert.match(html, /<title>TrActor<\/title>/);
    assert.match(html, /<script>/);
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|@import|url\(\s*["']?https?:/i);
    const urls = html.match(/https?:\/\/[^\s"'`)]+/g) ?? [];
    assert.deepEqual([...new Set(urls)], ["http://www.w3.org/2000/svg"]);
  } finally {
    await fx.close();
  }
});

Deno.test("--labels: a labels file sets the groups and the domain → application labels", async () => {
  const yaml = "groups:\n  - group_name: sites\n    labels: [example]\n" +
    "domains:\n  example: [example.com]\n";
  const fx = await tractorFixture({ labelsYaml: yaml });
  try {
    const id = await processFile(fx, "clients.pcap");
    const groups = (await fx.call("/labels/list")).body as { group_name: string }[];
    assert.equal(groups[0]!.group_name, "sites");
    const r = await fx.call(`/file/${id}/statistics/labels?label=sites`);
    assert.deepEqual(r.body, [
      { title: "protocols", content: [{ label: "example", count: 2 }] },
      { title: "clients", content: [{ label: CLIENTS.chicago, count: 2 }] },
    ]);
  } finally {
    await fx.close();
  }
});

Deno.test("startTractor() refuses a bad labels file, naming it", async () => {
  await assert.rejects(
    () => tractorFixture({ labelsYaml: "groups: 5\n" }),
    /labels\.yaml.*groups/,
  );
});

Deno.test("a gzip-compressed capture is listed as pcap.gz and processed like the plain one", async () => {
  const fx = await tractorFixture({ copies: {} });
  try {
    const gz = await new Response(
      new Blob([await Deno.readFile(CLIENTS_PCAP)]).stream().pipeThrough(
        new CompressionStream("gzip"),
      ),
    ).bytes();
    await Deno.writeFile(`${fx.captures}/clients.pcap.gz`, gz);
    const list = (await fx.call("/files/list")).body as Json[];
    assert.equal(list.length, 1);
    assert.equal(list[0]!.extension, "pcap.gz");
    assert.equal(list[0]!.time_start, T0);
    const id = await processFile(fx, "clients.pcap.gz");
    assert.deepEqual((await fx.call(`/file/${id}/statistics`)).body, expectedStatistics);
  } finally {
    await fx.close();
  }
});

Deno.test("an unexpected failure answers 500 in the seed's shape without details", async () => {
  const fx = await tractorFixture({ copies: {} });
  const lines: string[] = [];
  try {
    const app = createTractorApi({
      store: new Proxy(fx.tractor.store, {
        get(target, key) {
          if (key === "seenLabels") {
            return () => {
              throw new Error("disk on fire");
            };
          }
          const v = Reflect.get(target, key);
          return typeof v === "function" ? v.bind(target) : v;
        },
      }),
      repository: new CaptureRepository(fx.captures),
      submit: () => {
        throw new Error("unused");
      },
      geo: noGeoIp(),
      labelGroups: [],
      log: (line) => lines.push(line),
    });
    const res = await app.request("/v1/labels/list");
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), {
      status: 500,
      code: 500,
      message: "Internal server error",
    });
    assert.ok(lines.some((l) => l.includes("disk on fire")), "logged for the operator");
  } finally {
    await fx.close();
  }
});
