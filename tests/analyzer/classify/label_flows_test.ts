import { analyzeCommand } from "../../../src/commands/analyze_command.ts";
import assert from "node:assert/strict";
import { analyzeCapture } from "../../../src/analyzer/analyze/mod.ts";
import { type FlowLabelInfo, labelFlows } from "../../../src/analyzer/classify/label_flows.ts";
import type { Flow } from "../../../src/analyzer/flows/flow.ts";
import {
  ethernet,
  type Frame,
  ipPacket,
  pcap,
  TCP,
} from "../../shared/capture/_capture_builder.ts";
import { dnsMessage } from "./signatures/_input.ts";

const APPS = new URL("../../fixtures/captures/apps/", import.meta.url);

/** Each committed capture of scripts/capture-apps.sh and the application it records. */
const CAPTURES: Record<string, string> = {
  http: "http",
  tls: "tls",
  vk: "vk",
  facebook: "facebook",
  dns: "dns",
  ftp: "ftp",
  ssh: "ssh",
  telnet: "telnet",
  socks5: "socks5",
  bittorrent: "bittorrent",
  openvpn: "openvpn",
  wireguard: "wireguard",
};

function info(flow: Flow): FlowLabelInfo {
  return flow.annotations?.labels as FlowLabelInfo;
}

async function labelled(
  source: string | Uint8Array,
  options: Parameters<typeof labelFlows>[0] = {},
): Promise<Flow[]> {
  const flows: Flow[] = [];
  const summary = await analyzeCapture(source, { labeler: labelFlows(options) }, (f) => {
    flows.push(f);
  });
  assert.equal(summary.error, undefined);
  return flows;
}

for (const [file, app] of Object.entries(CAPTURES)) {
  Deno.test(`labelFlows() names >= 95 % of the flows of apps/${file}.pcap.gz "${app}" without the classifier`, async () => {
    const flows = await labelled(new URL(`${file}.pcap.gz`, APPS).pathname, { classify: false });
    assert.ok(flows.length > 0);
    const right = flows.filter((f) => f.label === app);
    const wrong = flows.filter((f) => f.label !== app).map((f) =>
      `${f.srcAddress}:${f.srcPort}>${f.dstAddress}:${f.dstPort} ${f.label || "-"}`
    );
    assert.ok(right.length / flows.length >= 0.95, `${right.length}/${flows.length}: ${wrong}`);
    for (const f of right) assert.equal(info(f).confidence, 1);
  });
}

Deno.test("labelFlows() joins each FTP data connection to its control connection's session", async () => {
  // Gap 0: each control connection is a session of its own, so a wrong join would show.
  const flows = await labelled(new URL("ftp.pcap.gz", APPS).pathname, { sessionGapSeconds: 0 });
  const controls = flows.filter((f) => f.dstPort === 21);
  const data = flows.filter((f) => f.dstPort !== 21);
  assert.equal(controls.length, 3);
  assert.equal(data.length, 7);
  assert.equal(new Set(controls.map((f) => info(f).session)).size, 3);
  for (const d of data) {
    assert.equal(info(d).source, "session");
    const control = controls.find((c) => info(c).session === info(d).session);
    assert.ok(control, `data flow ${d.id} has a control connection`);
    assert.ok(d.firstUs >= control.firstUs && d.firstUs <= control.lastUs, `data flow ${d.id}`);
  }
  // Active mode (PORT): the server opens the data connection to the client.
  assert.ok(data.some((d) => d.srcAddress === "10.200.6.1"));
  for (const c of controls) assert.ok(data.some((d) => info(d).session === info(c).session));
});

Deno.test("labelFlows() joins one client's flows to one service into a session", async () => {
  const flows = await labelled(new URL("vk.pcap.gz", APPS).pathname);
  // DNS (UDP 53), HTTP (TCP 80) and HTTPS (TCP 443) to one server: three services.
  assert.equal(new Set(flows.map((f) => info(f).session)).size, 3);
  assert.deepEqual(
    new Set(flows.map((f) => info(f).domain?.replace(/^www\./, ""))),
    new Set([
      "vk.com",
      "userapi.com",
    ]),
  );
});

// ---- synthetic captures ----

const T0 = 1_700_000_000_000_000;
const C = "10.200.99.2";
const S = "10.200.99.1";
const enc = (s: string) => new TextEncoder().encode(s);

/** A TCP connection: handshake, then `[fromClient, text]` segments, then FIN both ways. */
function tcpFlow(t: number, sport: number, dport: number, talk: [boolean, Uint8Array][]): Frame[] {
  const frames: Frame[] = [];
  let cs = 1000, ss = 5000, ts = t;
  const add = (fromClient: boolean, flags: number, payload: Uint8Array = new Uint8Array(0)) => {
    const [src, dst, sp, dp] = fromClient ? [C, S, sport, dport] : [S, C, dport, sport];
    const seq = fromClient ? cs : ss;
    frames.push({
      tsUs: ts += 1000,
      data: ethernet(
        ipPacket({ src, dst, proto: "tcp", sport: sp, dport: dp, flags, seq, payload }),
      ),
    });
    const len = payload.length + ((flags & (TCP.SYN | TCP.FIN)) ? 1 : 0);
    if (fromClient) cs += len;
    else ss += len;
  };
  add(true, TCP.SYN);
  add(false, TCP.SYN | TCP.ACK);
  add(true, TCP.ACK);
  for (const [fromClient, payload] of talk) add(fromClient, TCP.ACK | TCP.PSH, payload);
  add(true, TCP.FIN | TCP.ACK);
  add(false, TCP.FIN | TCP.ACK);
  return frames;
}

function udp(
  t: number,
  fromClient: boolean,
  sport: number,
  dport: number,
  payload: Uint8Array,
): Frame {
  const [src, dst, sp, dp] = fromClient ? [C, S, sport, dport] : [S, C, dport, sport];
  return {
    tsUs: t,
    data: ethernet(ipPacket({ src, dst, proto: "udp", sport: sp, dport: dp, payload })),
  };
}

Deno.test("labelFlows() names a flow without a domain by an earlier DNS answer for its address", async () => {
  const query = dnsMessage({ id: 7, name: "vk.com" });
  const answer = dnsMessage({ id: 7, name: "vk.com", response: true, answers: [S] });
  const frames = [
    udp(T0, true, 5353, 53, query),
    udp(T0 + 500, false, 5353, 53, answer),
    // An unknown binary protocol to the answered address (e.g. QUIC-like over TCP here).
    ...tcpFlow(T0 + 10_000, 41000, 8443, [[true, Uint8Array.of(0xc3, 0, 0, 0, 1, 8, 1, 2)]]),
  ];
  const flows = await labelled(pcap(frames));
  const tcp = flows.find((f) => f.protocol === 6)!;
  assert.equal(tcp.label, "vk");
  assert.equal(info(tcp).source, "dns");
  assert.equal(info(tcp).domain, "vk.com");
  assert.equal(flows.find((f) => f.protocol === 17)!.label, "vk");
});

Deno.test("labelFlows() falls back to the classifier, or leaves the label empty without it", async () => {
  const frames = tcpFlow(T0, 41000, 9999, [[true, enc("\x01\x02binary")], [false, enc("\x03ok")]]);
  const [flow] = await labelled(pcap(frames));
  assert.equal(info(flow!).source, "classifier");
  assert.match(flow!.label, /^(VPN-)?(BROWSING|CHAT|STREAMING|MAIL|VOIP|P2P|FT)$/);
  assert.ok(info(flow!).confidence > 0 && info(flow!).confidence <= 1);
  const [bare] = await labelled(pcap(frames), { classify: false });
  assert.equal(bare!.label, "");
  assert.equal(info(bare!).source, "none");
});

Deno.test("labelFlows() keeps a given label and reports what it detected", async () => {
  const frames = tcpFlow(T0, 41000, 22, [[true, enc("SSH-2.0-OpenSSH_9.2\r\n")]]);
  const flows: Flow[] = [];
  await analyzeCapture(pcap(frames), { label: "P2P", labeler: labelFlows() }, (f) => flows.push(f));
  assert.equal(flows[0]!.label, "P2P");
  assert.equal(info(flows[0]!).source, "given");
  assert.equal(info(flows[0]!).detected, "ssh");
});

Deno.test("labelFlows() reads only the first datagram of a UDP direction", async () => {
  // Two queries on one 5-tuple: the name comes from the first, not from glued bytes.
  const frames = [
    udp(T0, true, 5353, 53, dnsMessage({ id: 1, name: "first.example" })),
    udp(T0 + 100, true, 5353, 53, dnsMessage({ id: 2, name: "second.example" })),
  ];
  const [flow] = await labelled(pcap(frames));
  assert.equal(flow!.label, "dns");
  assert.equal(info(flow!).domain, "first.example");
});

Deno.test("labelFlows() gives an ICMP error the label and session of the flow it quotes", async () => {
  const query = dnsMessage({ id: 3, name: "a.example" });
  const sent = ipPacket({ src: C, dst: S, proto: "udp", sport: 5353, dport: 53, payload: query });
  const frames = [
    udp(T0, true, 5353, 53, query),
    {
      tsUs: T0 + 100,
      data: ethernet(ipPacket({ src: S, dst: C, proto: "icmp", icmpType: 3, payload: sent })),
    },
  ];
  const flows = await labelled(pcap(frames));
  const icmp = flows.find((f) => f.protocol === 1)!;
  assert.equal(icmp.label, "dns");
  assert.equal(info(icmp).source, "session");
  assert.equal(info(icmp).session, info(flows.find((f) => f.protocol === 17)!).session);
});

Deno.test("labelFlows() follows FTP control lines split across segments to the data connection", async () => {
  const control = tcpFlow(T0, 41000, 2121, [
    [false, enc("220 Service ready\r\n")],
    [true, enc("USER anonymous\r\n")],
    [false, enc("230 OK\r\n")],
    [true, enc("PASV\r\n")],
    [false, enc("227 Entering Passive Mode (10,200,99,")],
    [false, enc("1,195,80).\r\n")],
  ]);
  const data = tcpFlow(T0 + 50_000, 41001, 195 * 256 + 80, [[false, enc("file body")]]);
  const flows = await labelled(pcap([...control, ...data].sort((a, b) => a.tsUs - b.tsUs)));
  const [c, d] = [flows.find((f) => f.dstPort === 2121)!, flows.find((f) => f.dstPort !== 2121)!];
  assert.equal(c.label, "ftp");
  assert.equal(d.label, "ftp");
  assert.equal(info(d).source, "session");
  assert.equal(info(d).session, info(c).session);
});

Deno.test("analyzeCommand() writes label, confidence and session in --json, CSV labels by default", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qts-labels-" });
  try {
    const capture = new URL("ssh.pcap.gz", APPS).pathname;
    assert.equal(
      await analyzeCommand([
        "--quiet",
        "--json",
        `${dir}/o.json`,
        "--csv",
        `${dir}/o.csv`,
        capture,
      ]),
      0,
    );
    const json = JSON.parse(await Deno.readTextFile(`${dir}/o.json`));
    assert.equal(json[0].label, "ssh");
    assert.equal(json[0].labelSource, "signature");
    assert.equal(json[0].confidence, 1);
    assert.equal(json[0].session, 1);
    assert.equal(json[0].group, "other");
    assert.equal(json[0].appProtocol, "ssh");
    const csv = (await Deno.readTextFile(`${dir}/o.csv`)).trim().split("\n");
    assert.ok(csv.slice(1).every((line) => line.endsWith(",ssh")));
    // --no-labels: the table of part 1, label column empty.
    assert.equal(
      await analyzeCommand(["--quiet", "--no-labels", "--csv", `${dir}/n.csv`, capture]),
      0,
    );
    const bare = (await Deno.readTextFile(`${dir}/n.csv`)).trim().split("\n");
    assert.ok(bare.slice(1).every((line) => line.endsWith(",")));
    assert.equal(await analyzeCommand(["--quiet", "--session-gap", "x", capture]), 2);
    assert.equal(await analyzeCommand(["--quiet", "--payload-bytes", "0", capture]), 2);
    assert.equal(await analyzeCommand(["--quiet", "--payload-bytes", "70000", capture]), 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("labelFlows() labels a SOCKS5 tunnel socks5 even when its target is an application's", async () => {
  const frames = tcpFlow(T0, 41000, 1080, [
    [true, Uint8Array.of(5, 1, 0)],
    [false, Uint8Array.of(5, 0)],
    [true, Uint8Array.of(5, 1, 0, 3, 6, ...enc("vk.com"), 1, 187)],
  ]);
  const [flow] = await labelled(pcap(frames));
  assert.equal(flow!.label, "socks5");
  assert.equal(info(flow!).domain, "vk.com");
  assert.equal(info(flow!).group, "vpn");
});

Deno.test("labelFlows() names an encrypted peer connection by its endpoint's DHT traffic", async () => {
  const id = "A".repeat(20);
  const ping = enc(`d1:ad2:id20:${id}e1:q4:ping1:t2:aa1:y1:qe`);
  const frames = [
    udp(T0, true, 6891, 6881, ping),
    // MSE: random-looking bytes from the first byte on.
    ...tcpFlow(T0 + 1000, 41000, 6881, [[true, Uint8Array.from({ length: 96 }, (_, i) => i * 37)]]),
    // The same bytes to another port of that host stay unnamed.
    ...tcpFlow(T0 + 90_000, 41001, 6882, [[
      true,
      Uint8Array.from({ length: 96 }, (_, i) => i * 37),
    ]]),
  ];
  const flows = await labelled(pcap(frames), { classify: false });
  const [peer, other] = [
    flows.find((f) => f.dstPort === 6881 && f.protocol === 6)!,
    flows.find((f) => f.dstPort === 6882)!,
  ];
  assert.equal(peer.label, "bittorrent");
  assert.equal(info(peer).source, "endpoint");
  assert.equal(other.label, "");
});

Deno.test("FlowTable asks ready() and inspects a direction before its byte budget is full", async () => {
  // The flows-module hook labelFlows relies on: a UDP direction is inspected after one datagram.
  const { FlowTable } = await import("../../../src/analyzer/flows/flow_table.ts");
  const { CaptureReader, decodePacket } = await import("../../../src/shared/capture/mod.ts");
  const seen: number[] = [];
  const table = new FlowTable({
    payloadBytes: 1024,
    inspector: {
      ready: (_f, _d, payload) => payload.length >= 30,
      inspect: (_f, _d, payload) => void seen.push(payload.length),
    },
  }, () => {});
  const reader = new CaptureReader(pcap([
    udp(T0, true, 1, 2, new Uint8Array(20).fill(1)),
    udp(T0 + 1, true, 1, 2, new Uint8Array(20).fill(2)),
    udp(T0 + 2, true, 1, 2, new Uint8Array(20).fill(3)),
  ]));
  await reader.forEach((v) => {
    if (decodePacket(v) === 0) table.add(v);
  });
  assert.deepEqual(seen, [40], "inspected after the second datagram, before the flow ended");
  table.flush();
  assert.deepEqual(seen, [40]);
});

Deno.test("labelFlows() batches classifier flows without changing any label, order or session", async () => {
  // 700 connections with varied timing, so the classifier's verdicts differ; every third speaks
  // SSH (a signature), interleaving settled flows with flows waiting for the classifier.
  const frames: Frame[] = [];
  for (let i = 0; i < 700; i++) {
    const talk: [boolean, Uint8Array][] = i % 3 === 0
      ? [[true, enc("SSH-2.0-OpenSSH_9.2\r\n")]]
      : Array.from({ length: 1 + (i % 7) }, (_, k) => [k % 2 === 0, enc("\x01".repeat(1 + i))]);
    const flow = tcpFlow(T0 + i * 50_000, 20000 + i, 7000 + (i % 5), talk);
    flow.forEach((f, k) => f.tsUs += k * (i % 11) * 37_000);
    frames.push(...flow);
  }
  frames.sort((a, b) => a.tsUs - b.tsUs);
  const capture = pcap(frames);
  const view = (flows: Flow[]) =>
    flows.map((f) => JSON.stringify([f.id, f.srcPort, f.label, f.annotations]));
  for (const label of ["", "P2P"]) {
    const batched: Flow[] = [];
    await analyzeCapture(capture, { label, labeler: labelFlows() }, (f) => batched.push(f));
    // The same capture labelled one flow at a time, as before batching.
    const labeler = labelFlows();
    const single: Flow[] = [];
    await analyzeCapture(capture, {
      inspector: labeler.inspector,
      payloadBytes: labeler.payloadBytes,
    }, (flow) => {
      flow.label = label;
      labeler.label(flow);
      single.push(flow);
    });
    assert.equal(labeler.pending, 0);
    assert.deepEqual(view(batched), view(single));
    const classified = batched.filter((f) => info(f).detectedSource === "classifier");
    assert.ok(classified.length > 256, `${classified.length} classifier flows: more than a batch`);
    assert.ok(new Set(classified.map((f) => info(f).detected)).size > 1, "verdicts differ");
    if (label !== "") assert.ok(batched.every((f) => f.label === label));
  }
});

Deno.test("labelFlows() counts every request of a real keep-alive capture, per client", async () => {
  // scripts/make-http-clients-capture.sh: curl → nginx on lo.
  const flows = await labelled(
    new URL("../../fixtures/captures/http-clients.pcap.gz", import.meta.url).pathname,
  );
  const byClient = new Map<string, { flows: number; requests: number; agents: Set<string> }>();
  const statuses = new Map<number, number>();
  for (const f of flows) {
    const http = info(f).http;
    assert.ok(http, `flow ${f.id} of ${f.srcAddress} is HTTP`);
    assert.equal(http.responses, http.requests, `flow ${f.id}: one response per request`);
    assert.equal(http.gaps, 0, `flow ${f.id}: read in step to the end`);
    const c = byClient.get(f.srcAddress) ?? { flows: 0, requests: 0, agents: new Set() };
    c.flows++;
    c.requests += http.requests;
    for (const ua of http.userAgents.keys()) c.agents.add(ua);
    for (const [s, n] of http.statuses) statuses.set(s, (statuses.get(s) ?? 0) + n);
    byClient.set(f.srcAddress, c);
  }
  const row = (ip: string) => {
    const c = byClient.get(ip)!;
    return [c.flows, c.requests, c.agents.size];
  };
  assert.deepEqual(row("127.78.0.2"), [1, 200, 1], "crawler: one connection, 200 requests");
  assert.deepEqual(row("127.78.0.3"), [4, 4, 1], "browser");
  assert.deepEqual(row("127.78.0.4"), [30, 30, 10], "rotator: 10 agents");
  assert.deepEqual(row("127.78.0.5"), [1, 3, 1], "legacy client");
  assert.deepEqual(Object.fromEntries(statuses), { 200: 234, 301: 1, 404: 1, 405: 1 });
});
