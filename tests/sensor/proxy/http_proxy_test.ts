import assert from "node:assert/strict";
import { rawExchange, startProxy } from "./_proxy_fixture.ts";

/** A Deno HTTP upstream on loopback that echoes what it got, named `name`. */
function upstream(name: string) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/ws") {
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onmessage = (e) => socket.send(`echo:${e.data}`);
      return response;
    }
    const body = req.body ? await req.text() : "";
    return Response.json({
      name,
      method: req.method,
      path: url.pathname + url.search,
      body,
      xff: req.headers.get("x-forwarded-for"),
      realIp: req.headers.get("x-real-ip"),
      via: req.headers.get("via"),
      conn: req.headers.get("connection"),
      secret: req.headers.get("x-secret"),
    });
  });
  return { server, address: `127.0.0.1:${server.addr.port}` };
}

function ini(servers: string[], extra = "", listener = "") {
  return `[proxy]
enabled = true
trusted_proxies = 127.0.0.1
header_timeout = 1s
idle_timeout = 5s
max_header_bytes = 2048
${extra}
[proxy:http:web]
listen = 127.0.0.1:0
pool = web
${listener}
[proxy:pool:web]
servers = ${servers.join(", ")}
`;
}

Deno.test("HttpProxy passes requests, bodies and keep-alive to the upstreams and records them", async () => {
  const a = upstream("a");
  const b = upstream("b");
  const proxy = await startProxy(ini([a.address, b.address]));
  try {
    const base = `http://127.0.0.1:${proxy.port("web")}`;
    const names: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${base}/x?i=${i}`, { headers: { "user-agent": "t/1" } });
      assert.equal(res.status, 200);
      const got = await res.json();
      assert.equal(got.path, `/x?i=${i}`);
      assert.equal(got.realIp, "127.0.0.1");
      assert.equal(got.via, "1.1 qts");
      names.push(got.name);
    }
    assert.deepEqual(names.sort(), ["a", "a", "b", "b"], "round robin over both upstreams");
    // A streamed (chunked) request body.
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode("hello "));
        c.enqueue(new TextEncoder().encode("world"));
        c.close();
      },
    });
    const post = await fetch(`${base}/post`, { method: "POST", body: stream });
    assert.equal((await post.json()).body, "hello world");
    // Before- and after-records for every request, joined by id.
    const before = proxy.records.filter((r) => r.req_type === 0);
    const after = proxy.records.filter((r) => r.req_type === 1);
    assert.equal(before.length, 5);
    assert.equal(after.length, 5);
    assert.equal(before[0]!.url, "/x?i=0");
    assert.equal(before[0]!.http_user_agent, "t/1");
    assert.equal(before[0]!.remote_addr, "127.0.0.1");
    assert.equal(after[0]!.qrator_request_id, before[0]!.qrator_request_id);
    assert.equal(after[0]!.status, 200);
    assert.match(after[0]!.upstream_addr, /^127\.0\.0\.1:\d+$/);
    assert.match(
      proxy.metrics.render(),
      /qts_proxy_requests_total\{listener="web",class="2xx"\} 5/,
    );
  } finally {
    await proxy.close();
    await a.server.shutdown();
    await b.server.shutdown();
  }
});

Deno.test("HttpProxy keeps a client connection alive across requests and pipelines", async () => {
  const a = upstream("a");
  const proxy = await startProxy(ini([a.address]));
  try {
    const req =
      "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    const text = await rawExchange(proxy.port("web"), req);
    assert.equal(text.match(/HTTP\/1\.1 200/g)?.length, 2);
    assert.ok(text.indexOf('"/one"') < text.indexOf('"/two"'));
  } finally {
    await proxy.close();
    await a.server.shutdown();
  }
});

Deno.test("HttpProxy refuses smuggling vectors and oversized heads before the upstream", async () => {
  const a = upstream("a");
  const proxy = await startProxy(ini([a.address]));
  try {
    const port = proxy.port("web");
    const cases: [string, RegExp, string][] = [
      [
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        /^HTTP\/1\.1 400/,
        "te_and_cl",
      ],
      [
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        /^HTTP\/1\.1 400/,
        "bad_content_length",
      ],
      [
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        /^HTTP\/1\.1 501/,
        "bad_transfer_encoding",
      ],
      ["GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", /^HTTP\/1\.1 400/, "obs_fold"],
      ["GET / HTTP/1.1\r\nHost : x\r\n\r\n", /^HTTP\/1\.1 400/, "bad_header"],
      ["GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", /^HTTP\/1\.1 400/, "bad_line_ending"],
      ["GET / HTTP/1.1\r\n\r\n", /^HTTP\/1\.1 400/, "bad_host"],
      [
        `GET / HTTP/1.1\r\nHost: x\r\nX: ${"a".repeat(3000)}\r\n\r\n`,
        /^HTTP\/1\.1 431/,
        "header_too_large",
      ],
      ["GET / HTTP/2.0\r\nHost: x\r\n\r\n", /^HTTP\/1\.1 505/, "bad_version"],
      ["POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", /^$/, "bad_chunk"],
    ];
    for (const [req, want, reason] of cases) {
      const text = await rawExchange(port, req);
      assert.match(text, want, `${reason}: ${JSON.stringify(text.slice(0, 60))}`);
      assert.ok(
        proxy.metrics.get("qts_proxy_bad_requests_total", { listener: "web", reason }) >= 1,
        `${reason} counted`,
      );
    }
  } finally {
    await proxy.close();
    await a.server.shutdown();
  }
});

/** Reads from `conn` until `text` holds `count` full responses of `pattern`'s status line. */
async function readResponses(conn: Deno.Conn, count: number): Promise<string> {
  const buf = new Uint8Array(65536);
  let text = "";
  while ((text.match(/\r\n\r\n\d+ [A-Za-z ]+\n|\r\n\r\n\{[^\n]*\}/g) ?? []).length < count) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text;
}

const ban = (ip: string) => ({
  method: "add",
  ip_addr: ip,
  rule_name: "tsng.test",
  domain_id: 8984,
  timeout: 60,
});

Deno.test("HttpProxy answers a banned client with ban_status and closes its open connections", async () => {
  const a = upstream("a");
  // No trusted proxy: the TCP peer (127.0.0.1) is the client.
  const proxy = await startProxy(
    ini([a.address], "ban_status = 451").replace("trusted_proxies = 127.0.0.1", ""),
  );
  try {
    const port = proxy.port("web");
    const get = () => rawExchange(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(await get(), /^HTTP\/1\.1 200/);
    // An open keep-alive connection of the client that gets banned.
    const open = await Deno.connect({ hostname: "127.0.0.1", port });
    await open.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const buf = new Uint8Array(4096);
    assert.ok((await open.read(buf))! > 0);
    proxy.server.bans.apply(ban("127.0.0.1"));
    // The open connection is closed by the ban.
    assert.equal(await open.read(buf).catch(() => null), null);
    open.close();
    assert.match(await get(), /^HTTP\/1\.1 451/);
    // A del lifts it.
    proxy.server.bans.apply({ ...ban("127.0.0.1"), method: "del" });
    assert.match(await get(), /^HTTP\/1\.1 200/);
    assert.equal(
      proxy.metrics.get("qts_proxy_refused_total", { listener: "web", reason: "banned" }),
      1,
    );
    proxy.metrics.render(); // runs the collectors that copy the registry's counts
    assert.equal(proxy.metrics.get("qts_proxy_closed_by_ban_total", {}), 1);
  } finally {
    await proxy.close();
    await a.server.shutdown();
  }
});

Deno.test("HttpProxy keeps a trusted proxy's connection open when one client it carries is banned", async () => {
  const a = upstream("a");
  const proxy = await startProxy(ini([a.address], "ban_status = 451"));
  try {
    const port = proxy.port("web");
    // 127.0.0.1 is a trusted proxy (a CDN, a load balancer): one connection, many clients.
    const req = (ip: string) =>
      new TextEncoder().encode(`GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: ${ip}\r\n\r\n`);
    const shared = await Deno.connect({ hostname: "127.0.0.1", port });
    await shared.write(req("192.0.2.7"));
    assert.match(await readResponses(shared, 1), /^HTTP\/1\.1 200/);
    proxy.server.bans.apply(ban("192.0.2.7"));
    // The ban closes nothing: the connection carries 192.0.2.8's requests as well.
    await shared.write(req("192.0.2.7"));
    const refused = await readResponses(shared, 1);
    assert.match(refused, /^HTTP\/1\.1 451/);
    assert.match(refused, /Connection: keep-alive/);
    await shared.write(req("192.0.2.8"));
    const other = await readResponses(shared, 1);
    assert.match(other, /^HTTP\/1\.1 200/);
    assert.match(other, /"xff":"192\.0\.2\.8, 127\.0\.0\.1"/);
    shared.close();
    // A refused request with a body is answered and the connection closed (its body unread).
    const post = await rawExchange(
      port,
      "POST / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 192.0.2.7\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert.match(post, /^HTTP\/1\.1 451/);
    assert.match(post, /Connection: close/);
    assert.equal(
      proxy.metrics.get("qts_proxy_refused_total", { listener: "web", reason: "banned" }),
      2,
    );
    proxy.metrics.render();
    assert.equal(proxy.metrics.get("qts_proxy_closed_by_ban_total", {}), 0);
  } finally {
    await proxy.close();
    await a.server.shutdown();
  }
});

Deno.test("HttpProxy honours a ban's timeout", async () => {
  const a = upstream("a");
  let now = Date.now();
  const { ProxyBanList } = await import("../../../src/sensor/proxy/proxy_ban_list.ts");
  const bans = new ProxyBanList({ now: () => now });
  bans.apply({ method: "add", ip_addr: "192.0.2.9", rule_name: "r", domain_id: 1, timeout: 30 });
  assert.equal(bans.banned("192.0.2.9"), true);
  now += 31_000;
  assert.equal(bans.banned("192.0.2.9"), false);
  // An IPv6 network ban covers its addresses.
  bans.apply({
    method: "add",
    ip_addr: "2001:db8:1:2::/64",
    rule_name: "r",
    domain_id: 1,
    timeout: 30,
  });
  assert.equal(bans.banned("2001:db8:1:2::55"), true);
  assert.equal(bans.banned("2001:db8:1:3::55"), false);
  await a.server.shutdown();
});

Deno.test("HttpProxy trusts X-Forwarded-For only from trusted proxies", async () => {
  const a = upstream("a");
  const proxy = await startProxy(ini([a.address]).replace("trusted_proxies = 127.0.0.1", ""));
  try {
    const text = await rawExchange(
      proxy.port("web"),
      "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nConnection: close\r\n\r\n",
    );
    assert.match(text, /"xff":"127\.0\.0\.1"/);
    assert.match(text, /"realIp":"127\.0\.0\.1"/);
    assert.equal(proxy.records[0]!.remote_addr, "127.0.0.1");
  } finally {
    await proxy.close();
    await a.server.shutdown();
  }
});

Deno.test("HttpProxy takes the client address from a PROXY protocol header", async () => {
  const a = upstream("a");
  const proxy = await startProxy(ini([a.address], "", "proxy_protocol = true"));
  try {
    const port = proxy.port("web");
    const v1 = await rawExchange(
      port,
      "PROXY TCP4 198.51.100.4 127.0.0.1 5555 80\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert.match(v1, /"realIp":"198\.51\.100\.4"/);
    const { encodeProxyHeader } = await import("../../../src/sensor/proxy/proxy_protocol.ts");
    const header = encodeProxyHeader(2, { ip: "2001:db8::9", port: 1 }, { ip: "::1", port: 80 });
    const req = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const v2 = await rawExchange(port, new Uint8Array([...header, ...req]));
    assert.match(v2, /"realIp":"2001:db8::9"/);
    assert.equal(await rawExchange(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "");
    assert.equal(
      proxy.metrics.get("qts_proxy_refused_total", { listener: "web", reason: "proxy_protocol" }),
      1,
    );
  } finally {
    await proxy.close();
    await a.server.shutdown();
  }
});

Deno.test("HttpProxy tunnels a WebSocket both ways", async () => {
  const a = upstream("a");
  const proxy = await startProxy(ini([a.address]));
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port("web")}/ws`);
    const got: string[] = [];
    const done = Promise.withResolvers<void>();
    ws.onopen = () => {
      ws.send("one");
      ws.send("two");
    };
    ws.onmessage = (e) => {
      got.push(String(e.data));
      if (got.length === 2) done.resolve();
    };
    ws.onerror = () => done.reject(new Error("websocket error"));
    await done.promise;
    assert.deepEqual(got, ["echo:one", "echo:two"]);
    const closed = Promise.withResolvers<void>();
    ws.onclose = () => closed.resolve();
    ws.close();
    await closed.promise;
  } finally {
    await proxy.close();
    await a.server.shutdown();
  }
});

Deno.test("HttpProxy retries a failed connect on the next upstream and counts it", async () => {
  const a = upstream("a");
  const dead = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadAddr = `127.0.0.1:${(dead.addr as Deno.NetAddr).port}`;
  dead.close();
  const proxy = await startProxy(ini([deadAddr, a.address]));
  try {
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`http://127.0.0.1:${proxy.port("web")}/`);
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }
    assert.ok(proxy.metrics.get("qts_proxy_retries_total", { listener: "web" }) >= 1);
    assert.ok(proxy.pools.get("web")!.failures.get(deadAddr)! >= 1, "reported to the pool");
    const after = proxy.records.find((r) => r.req_type === 1 && r.upstream_addr.includes(","));
    assert.ok(after, "an after-record lists the failed upstream first");
    assert.match(after!.upstream_statuses, /^502, 200$/);
  } finally {
    await proxy.close();
    await a.server.shutdown();
  }
});

Deno.test("HttpProxy closes a connection whose head does not arrive within header_timeout", async () => {
  const a = upstream("a");
  const proxy = await startProxy(ini([a.address], "max_conns_per_ip = 2"));
  try {
    const port = proxy.port("web");
    // A slowloris client: part of a head, then nothing.
    const text = await rawExchange(port, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    // The limit closes the socket, as nginx's client_header_timeout does (it logs 408).
    assert.equal(text, "");
    assert.equal(
      proxy.metrics.get("qts_proxy_timeouts_total", { listener: "web", kind: "header" }),
      1,
    );
    // The per-IP limit: two open connections from 127.0.0.1, the third is closed at once.
    const held = [
      await Deno.connect({ hostname: "127.0.0.1", port }),
      await Deno.connect({ hostname: "127.0.0.1", port }),
    ];
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await rawExchange(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "");
    assert.equal(
      proxy.metrics.get("qts_proxy_refused_total", { listener: "web", reason: "per_ip_limit" }),
      1,
    );
    for (const c of held) c.close();
  } finally {
    await proxy.close();
    await a.server.shutdown();
  }
});

const openssl = ["/usr/bin/openssl", "/bin/openssl"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});
if (!openssl) console.warn("skipping the TLS termination test: openssl is not installed");

Deno.test({
  name: "HttpProxy terminates TLS with the listener's certificate and key files",
  ignore: !openssl,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "qts-proxy-tls-" });
    const cert = `${dir}/cert.pem`;
    const key = `${dir}/key.pem`;
    const made = await new Deno.Command(openssl!, {
      args: [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    assert.ok(made.success, "openssl made a certificate");
    const a = upstream("a");
    const proxy = await startProxy(ini([a.address], "", `tls_cert = ${cert}\ntls_key = ${key}`));
    try {
      const conn = await Deno.connectTls({
        hostname: "localhost",
        port: proxy.port("web"),
        caCerts: [await Deno.readTextFile(cert)],
      });
      await conn.write(
        new TextEncoder().encode("GET /tls HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      );
      let text = "";
      const buf = new Uint8Array(4096);
      for (;;) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) break;
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
      conn.close();
      assert.match(text, /^HTTP\/1\.1 200/);
      assert.match(text, /"path":"\/tls"/);
      assert.equal(proxy.records[0]!.ssl_cipher, "TLS");
    } finally {
      await proxy.close();
      await a.server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * A raw HTTP/1.1 upstream that answers each connection's first request with a keep-alive
 * response and then closes it, as an upstream whose keepalive timeout just ran out does.
 */
function closingUpstream() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connections = 0;
  let closed = Promise.withResolvers<void>();
  const serving = (async () => {
    for await (const conn of listener) {
      connections++;
      const buf = new Uint8Array(4096);
      let text = "";
      while (!text.includes("\r\n\r\n")) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) break;
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
      const body = `conn ${connections}`;
      await conn.write(
        new TextEncoder().encode(
          `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        ),
      ).catch(() => 0);
      conn.close();
      closed.resolve();
    }
  })();
  return {
    address: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    get connections() {
      return connections;
    },
    /** Resolves when the upstream has closed its latest connection, then re-arms. */
    async closedOne() {
      await closed.promise;
      closed = Promise.withResolvers<void>();
    },
    async stop() {
      listener.close();
      await serving.catch(() => {});
    },
  };
}

Deno.test("HttpProxy retries a GET after a stale keep-alive upstream connection under one record id", async () => {
  const up = closingUpstream();
  const proxy = await startProxy(ini([up.address]));
  try {
    const base = `http://127.0.0.1:${proxy.port("web")}`;
    const first = await fetch(`${base}/one`);
    assert.equal(await first.text(), "conn 1");
    // The upstream has closed the connection the proxy now keeps idle for reuse.
    await up.closedOne();
    const second = await fetch(`${base}/two`);
    assert.equal(second.status, 200);
    assert.equal(await second.text(), "conn 2", "answered on a fresh connection");
    assert.equal(up.connections, 2);
    assert.equal(
      proxy.metrics.get("qts_proxy_upstream_errors_total", {
        listener: "web",
        upstream: up.address,
        kind: "stale",
      }),
      1,
      "the stale connection was reused, failed and counted",
    );
    const two = proxy.records.filter((r) => r.url === "/two");
    assert.deepEqual(two.map((r) => r.req_type), [0, 1], "one before-record, one after-record");
    assert.equal(two[0]!.qrator_request_id, two[1]!.qrator_request_id);
    assert.equal(two[1]!.status, 200);
    const ids = new Set(proxy.records.map((r) => r.qrator_request_id));
    assert.equal(ids.size, 2, "two requests, two ids");
  } finally {
    await proxy.close();
    await up.stop();
  }
});

/** Reads one response with a Content-Length body off `conn`; "" when the peer closed first. */
async function readResponse(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(65536);
  let text = "";
  for (;;) {
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const length = Number(/content-length: *(\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
      if (text.length >= end + 4 + length) return text;
    }
    const n = await conn.read(buf);
    if (n === null) return text;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
}

Deno.test("HttpProxy keeps an HTTP/1.0 client's connection alive when it asks, as nginx does", async () => {
  const a = upstream("a");
  const proxy = await startProxy(ini([a.address]));
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port("web") });
  try {
    const send = (text: string) => conn.write(new TextEncoder().encode(text));
    await send("GET /one HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const one = await readResponse(conn);
    assert.match(one, /^HTTP\/1\.1 200 /);
    assert.match(one, /\r\nConnection: keep-alive\r\n/i, "a 1.0 client is told it persists");
    assert.match(one, /"path":"\/one"/);
    assert.match(one, /"conn":"keep-alive"/, "the upstream was asked to keep alive too");
    await send("GET /two HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    const two = await readResponse(conn);
    assert.match(two, /"path":"\/two"/, "a second request on the same connection");
    // Without the token a 1.0 client gets one response and the connection closes.
    await send("GET /three HTTP/1.0\r\n\r\n");
    const three = await readResponse(conn);
    assert.match(three, /\r\nConnection: close\r\n/i);
    assert.match(three, /"conn":"close"/);
    assert.equal(await readResponse(conn), "", "closed after the response");
    const before = proxy.records.filter((r) => r.req_type === 0);
    assert.deepEqual(before.map((r) => r.url), ["/one", "/two", "/three"]);
    assert.deepEqual(before.map((r) => r.connection_requests), ["1", "2", "3"]);
  } finally {
    conn.close();
    await proxy.close();
    await a.server.shutdown();
  }
});

Deno.test("HttpProxy passes header bytes through as sent (obs-text, bare-LF lines) and drops what Connection names", async () => {
  const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  const text = (b: Uint8Array) => String.fromCharCode(...b);
  // A raw upstream: keeps the head it got, answers with obs-text and a hop-by-hop header.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const got = Promise.withResolvers<string>();
  (async () => {
    const conn = await listener.accept();
    const buf = new Uint8Array(4096);
    let head = "";
    while (!head.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      head += text(buf.subarray(0, n));
    }
    got.resolve(head);
    await conn.write(latin1(
      "HTTP/1.1 200 OK\r\nX-Reply: caf\xe9 \x80\x9f\r\nConnection: keep-alive, X-Hop\r\n" +
        "X-Hop: 1\r\nContent-Length: 2\r\n\r\nok",
    ));
    conn.close();
  })();
  const proxy = await startProxy(ini([`127.0.0.1:${(listener.addr as Deno.NetAddr).port}`]));
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port("web") });
    // A proxy that mangles the head can leave both sides waiting: fail instead of hanging.
    const stuck = setTimeout(() => {
      conn.close();
      got.resolve("(no head within 5 s)");
    }, 5000);
    await conn.write(latin1(
      "GET /caf\xe9 HTTP/1.1\nHost: x\nX-Name: caf\xe9 \x80\x9f  \nConnection: close, X-Drop\n" +
        "X-Drop: 1\n\n",
    ));
    let reply = "";
    const buf = new Uint8Array(4096);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        reply += text(buf.subarray(0, n));
      }
      conn.close();
    } catch { /* closed by the timer */ }
    const head = await got.promise;
    clearTimeout(stuck);
    assert.match(head, /^GET \/caf\xe9 HTTP\/1\.1\r\n/);
    assert.ok(head.includes("\r\nX-Name: caf\xe9 \x80\x9f\r\n"), JSON.stringify(head));
    assert.ok(!/x-drop/i.test(head), "a header the client's Connection names is hop-by-hop");
    assert.ok(head.includes("\r\nHost: x\r\n"));
    assert.ok(reply.includes("\r\nX-Reply: caf\xe9 \x80\x9f\r\n"), JSON.stringify(reply));
    assert.ok(!/x-hop/i.test(reply), "a header the upstream's Connection names is hop-by-hop");
    assert.ok(reply.endsWith("\r\n\r\nok"));
  } finally {
    await proxy.close();
    listener.close();
  }
});
