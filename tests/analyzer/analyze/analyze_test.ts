import { analyzeCommand } from "../../../src/commands/analyze_command.ts";
import assert from "node:assert/strict";
import {
  analyzeCapture,
  arffHeader,
  arffRow,
  seedColumns,
  seedCsvHeader,
  seedCsvRow,
} from "../../../src/analyzer/analyze/mod.ts";
import { flowFeatures } from "../../../src/analyzer/flows/mod.ts";
import {
  ethernet,
  type Frame,
  ipPacket,
  nullLoop,
  pcap,
  pcapng,
  sll,
  sll2,
  TCP,
} from "../../shared/capture/_capture_builder.ts";

/** The table of the seed ("Экспериментальные результаты"), copied verbatim (tab-separated). */
const SEED_TABLE =
  `duration	total_flat	total_blat	min_flat	min_blat	max_flat	max_blat	mean_flat	mean_blat	flowPktsPerSecond	flowBytesPerSecond	min_flowlat	max_flowlat	mean_flowlat	std_flowlat	min_active	mean_active	max_active	std_active	min_idle	mean_idle	max_idle	std_idle	label
192013	-1	-1	-1	-1	0.	0.	0.	0.	10.416	2333.18	192013	192013	192013.	0.	-1	0	-1	0	-1	0	-1	0	P2P
237026	-1	-1	-1	-1	0.	0.	0.	0.	8.43789	1890.09	237026	237026	237026.	0.	-1	0	-1	0	-1	0	-1	0	P2P
52857	-1	-1	-1	-1	0.	0.	0.	0.	37.8379	8475.7	52857	52857	52857.	0.	-1	0	-1	0	-1	0	-1	0	P2P
64424	-1	-1	-1	-1	0.	0.	0.	0.	31.0443	6953.93	64424	64424	64424.	0.	-1	0	-1	0	-1	0	-1	0	P2P
1634113	-1	-1	-1	-1	0.	0.	0.	0.	1.22391	274.155	1634113	1634113	1634113.	0.	1634113	1634113	1634113	0	1634113	1634113	1634113	0	P2P
282237	-1	-1	-1	-1	0.	0.	0.	0.	7.08624	1587.32	282237	282237	282237.	0.	-1	0	-1	0	-1	0	-1	0	P2P
69388	-1	-1	-1	-1	0.	0.	0.	0.	28.8234	6456.45	69388	69388	69388.	0.	-1	0	-1	0	-1	0	-1	0	P2P
273443	-1	-1	-1	-1	0.	0.	0.	0.	7.31414	1638.37	273443	273443	273443.	0.	-1	0	-1	0	-1	0	-1	0	P2P
339893	-1	-1	-1	-1	0.	0.	0.	0.	5.8842	1318.06	339893	339893	339893.	0.	-1	0	-1	0	-1	0	-1	0	P2P`;

/** Seed rows 1 and 5 as they occur in ISCX 15s-NO-VPN.arff (lines 4538 and 4541). */
const ISCX_ROWS: Record<number, string> = {
  192013:
    "192013,0,0,-1,-1,-1,-1,0,0,10.4159614193,2333.1753579185,192013,192013,192013,0,-1,0,-1,0,-1,0,-1,0,P2P",
  1634113:
    "1634113,0,0,-1,-1,-1,-1,0,0,1.2239055683,274.1548473086,1634113,1634113,1634113,0,1634113,1634113,1634113,0,1634113,1634113,1634113,0,P2P",
};

const T0 = 1_454_000_000_000_000;

/** One packet each way, 224 + 224 = 448 IP bytes, `gapUs` apart (the seed's P2P flows). */
function twoPacketFlow(gapUs: number): Frame[] {
  const a = ipPacket({
    src: "131.202.240.87",
    dst: "192.168.2.10",
    proto: "udp",
    sport: 51413,
    dport: 6881,
    payload: 196,
  });
  const b = ipPacket({
    src: "192.168.2.10",
    dst: "131.202.240.87",
    proto: "udp",
    sport: 6881,
    dport: 51413,
    payload: 196,
  });
  assert.equal(a.length, 224);
  return [{ tsUs: T0, data: ethernet(a) }, { tsUs: T0 + gapUs, data: ethernet(b) }];
}

async function csvOf(file: Uint8Array, label = ""): Promise<string[]> {
  const rows: string[] = [];
  const summary = await analyzeCapture(
    file,
    { label },
    (flow) => rows.push(seedCsvRow(flowFeatures(flow), flow.label)),
  );
  assert.equal(summary.error, undefined);
  return rows;
}

Deno.test("seedCsvHeader() reproduces the seed's column names and order", () => {
  assert.equal(seedCsvHeader(), `${SEED_TABLE.split("\n")[0]!.replaceAll("\t", ",")}\n`);
  assert.equal(seedColumns.length, 24);
});

Deno.test("analyzeCapture() + seedCsvRow() reproduce every row of the seed's table exactly", async () => {
  for (const line of SEED_TABLE.split("\n").slice(1)) {
    const duration = Number(line.split("\t")[0]);
    const rows = await csvOf(pcap(twoPacketFlow(duration)), "P2P");
    assert.deepEqual(rows, [`${line.replaceAll("\t", ",")}\n`]);
  }
});

Deno.test("arffRow() reproduces the ISCX file's rows for the seed's flows", async () => {
  for (const [duration, expected] of Object.entries(ISCX_ROWS)) {
    const rows: string[] = [];
    await analyzeCapture(pcap(twoPacketFlow(Number(duration))), { label: "P2P" }, (flow) => {
      rows.push(arffRow(flowFeatures(flow), flow.label));
    });
    assert.deepEqual(rows, [`${expected}\n`]);
  }
  const header = arffHeader(["P2P"]);
  assert.match(header, /^@RELATION <ISCXFlowMeter-generated-flows>\n/);
  assert.match(
    header,
    /@ATTRIBUTE std_idle NUMERIC\n@ATTRIBUTE class1 \{BROWSING,CHAT,STREAMING,MAIL,VOIP,P2P,FT\}\n\n@DATA\n$/,
  );
  assert.match(arffHeader(["VPN-P2P", "telegram"]), /\{VPN-BROWSING,.*,VPN-FT,telegram\}/);
});

function mixedTraffic(): Frame[] {
  const frames: Frame[] = [];
  let t = T0;
  const c = "10.0.0.5";
  const s = "10.0.0.80";
  const step = (ms: number) => (t += ms * 1000 + 17);
  const tcp = (fromC: boolean, flags: number, payload = 0) =>
    ethernet(ipPacket({
      src: fromC ? c : s,
      dst: fromC ? s : c,
      proto: "tcp",
      sport: fromC ? 33000 : 80,
      dport: fromC ? 80 : 33000,
      flags,
      payload,
      seq: t & 0xffff,
    }));
  frames.push({ tsUs: step(0), data: tcp(true, TCP.SYN) });
  frames.push({ tsUs: step(3), data: tcp(false, TCP.SYN | TCP.ACK) });
  frames.push({ tsUs: step(1), data: tcp(true, TCP.ACK) });
  frames.push({ tsUs: step(2), data: tcp(true, TCP.ACK | TCP.PSH, 120) });
  for (let i = 0; i < 5; i++) {
    frames.push({ tsUs: step(i === 3 ? 1500 : 4), data: tcp(false, TCP.ACK, 1400) });
  }
  frames.push({ tsUs: step(1), data: tcp(true, TCP.FIN | TCP.ACK) });
  frames.push({ tsUs: step(1), data: tcp(false, TCP.FIN | TCP.ACK) });
  frames.push({ tsUs: step(1), data: tcp(true, TCP.ACK) });
  for (let i = 0; i < 4; i++) {
    frames.push({
      tsUs: step(50),
      data: ethernet(
        ipPacket({
          src: "fd00::1",
          dst: "fd00::53",
          proto: "udp",
          sport: 40000 + i,
          dport: 53,
          payload: 33,
        }),
      ),
    });
    frames.push({
      tsUs: step(7),
      data: ethernet(
        ipPacket({
          src: "fd00::53",
          dst: "fd00::1",
          proto: "udp",
          sport: 53,
          dport: 40000 + i,
          payload: 80,
        }),
      ),
    }, {
      tsUs: step(2000),
      data: ethernet(
        ipPacket({
          src: "fd00::53",
          dst: "fd00::1",
          proto: "udp",
          sport: 53,
          dport: 40000 + i,
          payload: 80,
        }),
      ),
    });
  }
  return frames;
}

Deno.test("pcap (µs, ns, big-endian) and pcapng of the same packets give identical tables", async () => {
  const frames = mixedTraffic();
  const reference = await csvOf(pcap(frames));
  assert.equal(reference.length, 5);
  assert.deepEqual(await csvOf(pcap(frames, { nanos: true })), reference);
  assert.deepEqual(await csvOf(pcap(frames, { bigEndian: true })), reference);
  // Split over two interfaces with different resolutions (IPv4 on µs, IPv6 on ns).
  const ng = pcapng(
    [{ linkType: 1 }, { linkType: 1, tsresol: 9 }],
    frames.map((f) => ({ iface: f.data[12] === 0x86 ? 1 : 0, tsUs: f.tsUs, data: f.data })),
  );
  assert.deepEqual(await csvOf(ng), reference);
});

Deno.test("analyzeCommand() writes CSV, ARFF and JSON and exits 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qts-analyze-" });
  try {
    const capture = `${dir}/in.pcap`;
    await Deno.writeFile(
      capture,
      pcap([
        ...twoPacketFlow(192013),
        ...mixedTraffic().map((f) => ({ ...f, tsUs: f.tsUs + 10e6 })),
      ]),
    );
    const code = await analyzeCommand([
      "--quiet",
      "--label",
      "P2P",
      "--csv",
      `${dir}/out.csv`,
      "--format",
      "arff",
      "--output",
      `${dir}/out.arff`,
      "--json",
      `${dir}/out.json`,
      capture,
    ]);
    assert.equal(code, 0);
    const csv = (await Deno.readTextFile(`${dir}/out.csv`)).split("\n");
    assert.equal(csv[0], SEED_TABLE.split("\n")[0]!.replaceAll("\t", ","));
    assert.equal(csv[1], SEED_TABLE.split("\n")[1]!.replaceAll("\t", ","));
    assert.equal(csv.length, 1 + 6 + 1);
    const arff = await Deno.readTextFile(`${dir}/out.arff`);
    assert.ok(arff.includes(`@DATA\n${ISCX_ROWS[192013]}\n`));
    const json = JSON.parse(await Deno.readTextFile(`${dir}/out.json`));
    assert.equal(json.length, 6);
    assert.deepEqual(
      [json[0].src, json[0].srcPort, json[0].dst, json[0].dstPort, json[0].protocol],
      ["131.202.240.87", 51413, "192.168.2.10", 6881, "udp"],
    );
    assert.deepEqual(json[0].packets, { fwd: 1, bwd: 1 });
    assert.deepEqual(json[0].bytes, { fwd: 224, bwd: 224 });
    assert.equal(json[0].features.duration, 192013);
    assert.equal(json[0].features.min_fiat, null);
    assert.equal(json[0].label, "P2P");
    assert.equal(json[1].endReason, "fin");
    assert.equal(json[1].capture, capture);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyzeCommand() keeps flows before a truncation and exits 1; bad options exit 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qts-analyze-" });
  try {
    const full = pcap([
      ...twoPacketFlow(192013),
      ...mixedTraffic().map((f) => ({ ...f, tsUs: f.tsUs + 10e6 })),
    ]);
    await Deno.writeFile(`${dir}/cut.pcap`, full.subarray(0, full.length - 7));
    const code = await analyzeCommand(["--quiet", "--csv", `${dir}/out.csv`, `${dir}/cut.pcap`]);
    assert.equal(code, 1);
    const csv = (await Deno.readTextFile(`${dir}/out.csv`)).trim().split("\n");
    assert.equal(csv.length, 1 + 6);
    assert.equal(await analyzeCommand(["--quiet", "--flow-timeout", "abc", `${dir}/cut.pcap`]), 2);
    assert.equal(await analyzeCommand(["--format", "xml", `${dir}/cut.pcap`]), 2);
    assert.equal(await analyzeCommand([]), 2);
    assert.equal(
      await analyzeCommand(["--quiet", "--csv", `${dir}/x.csv`, `${dir}/missing.pcap`]),
      1,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyzeCapture() stops at an abort signal and still emits the open flows", async () => {
  const controller = new AbortController();
  let seen = 0;
  let flows = 0;
  const summary = await analyzeCapture(pcap(mixedTraffic()), {
    signal: controller.signal,
    onPacket: () => {
      if (++seen === 5) controller.abort();
    },
  }, () => flows++);
  assert.equal(summary.aborted, true);
  assert.equal(summary.error, undefined);
  assert.equal(summary.packets, 5);
  assert.equal(flows, 1);
  assert.equal(summary.flows, 1);
});

Deno.test("analyzeCapture() reads a gzip-compressed capture and reports a corrupt one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qts-analyze-" });
  try {
    const plain = pcap(mixedTraffic());
    const gz = new Uint8Array(
      await new Response(
        new Blob([plain.slice()]).stream().pipeThrough(new CompressionStream("gzip")),
      ).arrayBuffer(),
    );
    await Deno.writeFile(`${dir}/c.pcap.gz`, gz);
    const expected = await csvOf(plain);
    const rows: string[] = [];
    const summary = await analyzeCapture(
      `${dir}/c.pcap.gz`,
      {},
      (f) => rows.push(seedCsvRow(flowFeatures(f), "")),
    );
    assert.equal(summary.error, undefined);
    assert.deepEqual(rows, expected);
    const bad = gz.slice(0, Math.floor(gz.length * 0.6));
    await Deno.writeFile(`${dir}/bad.pcap.gz`, bad);
    const broken = await analyzeCapture(`${dir}/bad.pcap.gz`);
    assert.ok(broken.error);
    assert.ok(broken.packets < mixedTraffic().length);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the same traffic over SLL, SLL2, QinQ VLAN, raw IP and null loopback gives identical flows", async () => {
  const frames = mixedTraffic();
  const reference = await csvOf(pcap(frames));
  const ip = (f: Frame) => f.data.subarray(14);
  const variants: [string, number, (f: Frame) => Uint8Array][] = [
    ["SLL", 113, (f) => sll(ip(f))],
    ["SLL2", 276, (f) => sll2(ip(f))],
    ["QinQ", 1, (f) => ethernet(ip(f), [100, 200])],
    ["raw", 101, ip],
    ["null", 0, (f) => nullLoop(ip(f))],
  ];
  for (const [name, linkType, wrap] of variants) {
    const file = pcap(frames.map((f) => ({ tsUs: f.tsUs, data: wrap(f) })), { linkType });
    assert.deepEqual(await csvOf(file), reference, name);
  }
});
