import assert from "node:assert/strict";
import { analyzeCommand } from "../../../src/commands/analyze_command.ts";
import { builtinModels } from "../../../src/analyzer/classify/model/classify_flow.ts";
import { recognizeFlow } from "../../../src/analyzer/classify/model/recognize_flow.ts";
import { featureNames } from "../../../src/analyzer/classify/model/feature_names.ts";

// Real traffic outside the ISCX domain, recorded by scripts/make-ood-capture.sh on the lo of a
// network namespace of its own: nginx's access-log syslog (udp/5140) while curl browses it,
// `logger` syslog (udp/514, one socket per message), DNS over loopback (udp/53) and a
// memcached session (tcp/11211).
const CAPTURE = new URL("../../fixtures/captures/out-of-domain.pcap.gz", import.meta.url).pathname;

interface JsonFlow {
  protocol: string;
  srcPort: number;
  dstPort: number;
  packets: { fwd: number; bwd: number };
  features: Record<string, number | null>;
  label: string;
  labelSource: string;
  confidence: number;
  unknownReason?: string;
  guess?: string;
  appProtocol?: string;
}

async function analyzeJson(): Promise<JsonFlow[]> {
  const dir = await Deno.makeTempDir();
  try {
    const code = await analyzeCommand(["--quiet", "--json", `${dir}/flows.json`, CAPTURE]);
    assert.equal(code, 0);
    return JSON.parse(await Deno.readTextFile(`${dir}/flows.json`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The 23 ISCX features of a JSON flow, with the ISCX files' values for undefined ones. */
function iscx(flow: JsonFlow): number[] {
  return featureNames.map((name) => {
    const v = flow.features[name];
    if (v !== null && v !== undefined) return v;
    return /^(min|max)_/.test(name) && !/^(total|mean)_/.test(name) ? -1 : 0;
  });
}

const flows = await analyzeJson();
const service = (port: number) => flows.filter((f) => f.dstPort === port);
const iscxClasses = new Set(builtinModels().models.flatMap((m) => [...m.classes]));

Deno.test("analyzeCommand() labels syslog (udp/514, nginx's udp/5140) and memcached flows unknown", () => {
  const syslog = [...service(514), ...service(5140)];
  const memcached = service(11211);
  assert.equal(service(514).length, 30, "one flow per logger message");
  assert.equal(service(5140).length, 1, "nginx logs over one socket");
  assert.ok(service(5140)[0]!.packets.fwd >= 40, "one datagram per request");
  assert.ok(memcached.length >= 1 && memcached.some((f) => f.packets.fwd > 100));
  for (const f of [...syslog, ...memcached]) {
    assert.equal(f.label, "unknown", `${f.protocol}/${f.dstPort}`);
    assert.equal(f.labelSource, "classifier");
    assert.equal(f.unknownReason, "port");
  }
});

Deno.test("analyzeCommand() gives no flow outside the training domain an ISCX class", () => {
  assert.ok(flows.length >= 90);
  const named = flows.filter((f) => iscxClasses.has(f.label));
  assert.deepEqual(named.map((f) => `${f.protocol}/${f.dstPort} ${f.label}`), []);
});

Deno.test("analyzeCommand() keeps signatures first: DNS over loopback is dns, HTTP is http", () => {
  const dns = service(53);
  assert.equal(dns.length, 24);
  for (const f of dns) {
    assert.equal(f.label, "dns");
    assert.equal(f.labelSource, "signature");
    assert.equal(f.appProtocol, "dns");
  }
  const http = service(8080);
  assert.equal(http.length, 40);
  for (const f of http) assert.equal(`${f.label} ${f.labelSource}`, "http signature");
});

Deno.test("recognizeFlow() calls DNS-over-loopback unknown where no signature names it", () => {
  for (const f of service(53)) {
    const verdict = recognizeFlow(iscx(f), { protocol: 17, srcPort: f.srcPort, dstPort: 53 });
    assert.equal(verdict.label, "unknown");
    assert.equal(verdict.reason, "port");
    assert.equal(verdict.detail, "udp/53 dns");
  }
});

Deno.test("recognizeFlow() without ports: single syslog datagrams fall under the threshold", () => {
  // Time features alone: one packet, no timing at all, so the calibrated model is unsure.
  for (const f of service(514)) {
    const verdict = recognizeFlow(iscx(f), undefined, { timeout: 120 });
    assert.equal(verdict.label, "unknown");
    assert.equal(verdict.reason, "confidence");
    assert.ok(verdict.confidence < 0.5 && iscxClasses.has(verdict.guess));
  }
});

// The TrActor seed's two rows (both occur in the ISCX files, class P2P), ISCX conventions.
const SEED_ROWS = [
  [192013, 0, 0, -1, -1, -1, -1, 0, 0, 10.4159, 2333.1233, 192013, 192013, 192013, 0, -1, 0, -1]
    .concat([0, -1, 0, -1, 0]),
  [1634113, 0, 0, -1, -1, -1, -1, 0, 0, 1.2239, 274.1628, 1634113, 1634113, 1634113, 0]
    .concat([1634113, 1634113, 1634113, 0, 1634113, 1634113, 1634113, 0]),
];

Deno.test("recognizeFlow() keeps the class of in-domain flows (the seed's ISCX rows)", () => {
  for (const row of SEED_ROWS) {
    for (const timeout of [15, 120]) {
      const verdict = recognizeFlow(row, { protocol: 6, srcPort: 50123, dstPort: 443 }, {
        timeout,
      });
      assert.equal(verdict.reason, undefined, JSON.stringify(verdict));
      assert.match(verdict.label, /^(VPN-)?P2P$/);
      assert.equal(verdict.label, verdict.guess);
      assert.ok(verdict.confidence >= 0.5 && verdict.confidence <= 1);
    }
  }
});

Deno.test("recognizeFlow() calls non-TCP/UDP flows unknown by protocol", () => {
  const verdict = recognizeFlow(new Array(23).fill(0), { protocol: 1, srcPort: 0, dstPort: 0 });
  assert.deepEqual(verdict, {
    label: "unknown",
    confidence: 0,
    guess: "",
    reason: "protocol",
    detail: "protocol 1",
  });
});
