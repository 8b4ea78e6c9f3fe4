import assert from "node:assert/strict";
import { analyzeCapture, seedCsvRow } from "../../../src/analyzer/analyze/mod.ts";
import { type Flow, flowFeatures } from "../../../src/analyzer/flows/mod.ts";
import {
  addFieldBytes,
  assertSameConversations,
  conversationsOf,
  parseConversations,
} from "./_tshark.ts";

// Recorded by scripts/make-test-capture.sh: tcpdump -i any -s 128 (Linux SLL2, truncated frames)
// of real HTTP, DNS-like UDP and FTP traffic; the .pcapng and .nsec.pcap are editcap's
// conversions of the .pcap.
const dir = new URL("../../fixtures/captures/", import.meta.url);

async function flowsOf(name: string): Promise<Flow[]> {
  const flows: Flow[] = [];
  const summary = await analyzeCapture(new URL(name, dir).pathname, {}, (f) => flows.push(f));
  assert.equal(summary.error, undefined);
  assert.equal(summary.skipped, 0);
  return flows;
}

Deno.test("analyzeCapture() matches the recorded tshark view of a real SLL2 loopback capture", async () => {
  const theirs = parseConversations(
    await Deno.readTextFile(new URL("loopback-sll2.conv.txt", dir)),
  );
  addFieldBytes(theirs, await Deno.readTextFile(new URL("loopback-sll2.fields.txt", dir)));
  assert.ok(theirs.size >= 12);
  assertSameConversations(conversationsOf(await flowsOf("loopback-sll2.pcap")), theirs);
});

Deno.test("a real pcap and editcap's pcapng and nanosecond pcap of it give identical tables", async () => {
  const table = async (name: string) =>
    (await flowsOf(name)).map((f) => seedCsvRow(flowFeatures(f), ""));
  const fromPcap = await table("loopback-sll2.pcap");
  assert.ok(fromPcap.length >= 12);
  assert.deepEqual(await table("loopback-sll2.pcapng"), fromPcap);
  assert.deepEqual(await table("loopback-sll2.nsec.pcap"), fromPcap);
});

Deno.test("flows of the real capture carry the IP lengths, not the 128-byte snap length", async () => {
  const flows = await flowsOf("loopback-sll2.pcap");
  const big = flows.filter((f) => f.protocol === 6 && f.bytes[1] > 100_000);
  // The two FTP data connections each carry the 131,072-byte file.
  assert.equal(big.length, 2);
  for (const f of big) assert.ok(f.payloadBytes[1] === 131_072, `payload ${f.payloadBytes[1]}`);
});
