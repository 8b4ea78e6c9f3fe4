import assert from "node:assert/strict";
import type { Flow, FlowDirection } from "../../../src/analyzer/flows/mod.ts";
import {
  ethernet,
  type Frame,
  ipPacket,
  type PacketSpec,
  pcap,
  TCP,
} from "../../shared/capture/_capture_builder.ts";
import { flowsOf } from "./_flow_helpers.ts";

const T0 = 1_700_000_000_000_000;
const C = "10.1.0.1";
const S = "10.1.0.2";

function tcp(fromClient: boolean, flags: number, extra: Partial<PacketSpec> = {}): Uint8Array {
  return ethernet(ipPacket({
    src: fromClient ? C : S,
    dst: fromClient ? S : C,
    proto: "tcp",
    sport: fromClient ? 50000 : 21,
    dport: fromClient ? 21 : 50000,
    flags,
    ...extra,
  }));
}

function at(ms: number, data: Uint8Array): Frame {
  return { tsUs: T0 + ms * 1000, data };
}

Deno.test("FlowTable keeps residual ACKs after FIN/FIN in the flow and starts anew on a SYN", async () => {
  const { flows } = await flowsOf(pcap([
    at(0, tcp(true, TCP.SYN)),
    at(1, tcp(false, TCP.SYN | TCP.ACK)),
    at(2, tcp(true, TCP.ACK)),
    at(3, tcp(true, TCP.FIN | TCP.ACK)),
    at(4, tcp(false, TCP.FIN | TCP.ACK)),
    at(5, tcp(true, TCP.ACK)), // residual ACK: same flow
    at(6, tcp(true, TCP.SYN)), // port reuse: new flow
    at(7, tcp(false, TCP.RST | TCP.ACK)),
    at(8, tcp(false, TCP.RST)), // residual after RST
  ]));
  assert.equal(flows.length, 2);
  assert.deepEqual(flows.map((f) => [f.packets[0], f.packets[1], f.endReason]), [
    [4, 2, "fin"],
    [1, 2, "rst"],
  ]);
  assert.equal(flows[0]!.durationUs, 5000);
});

Deno.test("FlowTable takes the SYN side as forward when the capture starts with a SYN-ACK", async () => {
  const { flows } = await flowsOf(
    pcap([at(0, tcp(false, TCP.SYN | TCP.ACK)), at(1, tcp(true, TCP.ACK))]),
  );
  assert.equal(flows.length, 1);
  const f = flows[0]!;
  assert.equal(f.srcAddress, C);
  assert.equal(f.srcPort, 50000);
  assert.deepEqual(f.packets, [1, 1]);
});

Deno.test("FlowTable cuts a flow at the timeout measured from its first packet", async () => {
  const frames: Frame[] = [];
  for (let s = 0; s <= 250; s += 10) frames.push(at(s * 1000, tcp(s % 20 === 0, TCP.ACK)));
  const { flows } = await flowsOf(pcap(frames), { flowTimeoutUs: 120_000_000 });
  // Packets at 0..120 s form the first flow (120 − 0 is not > 120), 130..250 the second.
  assert.deepEqual(flows.map((f) => f.totalPackets), [13, 13]);
  assert.deepEqual(flows.map((f) => f.endReason), ["timeout", "eof"]);
  // The second flow starts with a server packet (130 s): forward follows its first packet.
  assert.equal(flows[1]!.srcAddress, S);
});

Deno.test("FlowTable expires idle flows while other traffic goes on", async () => {
  const frames: Frame[] = [at(0, tcp(true, TCP.ACK))];
  const other = (ms: number) =>
    at(
      ms,
      ethernet(ipPacket({ src: "10.9.9.9", dst: "10.9.9.8", proto: "udp", sport: 1, dport: 2 })),
    );
  for (let s = 1; s <= 200; s += 1) frames.push(other(s * 1000));
  const emitted: number[] = [];
  const { flows } = await flowsOf(pcap(frames), { flowTimeoutUs: 30_000_000 });
  for (const f of flows) emitted.push(f.totalPackets);
  // The single-packet flow goes first (expired at 30 s), then the UDP flow in 30-s slices.
  assert.equal(flows[0]!.srcAddress, C);
  assert.equal(flows[0]!.endReason, "timeout");
  assert.equal(emitted.slice(1).reduce((a, b) => a + b, 0), 200);
});

Deno.test("FlowTable counts out-of-order and duplicate packets and keeps them out of the IATs", async () => {
  const data = (seq: number) => tcp(true, TCP.ACK | TCP.PSH, { seq, payload: 10 });
  const { flows, table } = await flowsOf(pcap([
    at(0, data(1)),
    at(10, data(11)),
    { tsUs: T0 + 10_200, data: data(11) }, // the same packet captured twice, 200 µs later
    at(5, data(21)), // out of order: earlier than the flow's latest
    at(20, data(31)),
  ]));
  assert.equal(flows.length, 1);
  const f = flows[0]!;
  assert.equal(f.duplicates, 1);
  assert.equal(f.outOfOrder, 1);
  assert.equal(table.stats.duplicates, 1);
  assert.equal(table.stats.outOfOrder, 1);
  assert.equal(table.stats.captureOutOfOrder, 1);
  assert.equal(f.totalPackets, 4);
  assert.deepEqual([f.flowIat.n, f.flowIat.min, f.flowIat.max], [2, 10_000, 10_000]);
  assert.equal(f.durationUs, 20_000);
});

Deno.test("FlowTable hands the first payload bytes of each direction to the inspector in TCP order", async () => {
  const enc = new TextEncoder();
  const seen: [number, FlowDirection, string][] = [];
  const { flows } = await flowsOf(
    pcap([
      at(0, tcp(false, TCP.ACK | TCP.PSH, { seq: 100, payload: enc.encode("220 Welcome\r\n") })),
      at(1, tcp(true, TCP.ACK | TCP.PSH, { seq: 7, payload: enc.encode("USER ") })),
      at(2, tcp(true, TCP.ACK | TCP.PSH, { seq: 7, payload: enc.encode("USER ") })), // retransmission
      at(3, tcp(true, TCP.ACK | TCP.PSH, { seq: 12, payload: enc.encode("anonymous\r\n") })),
    ]),
    {
      payloadBytes: 12,
      duplicateWindowUs: 0,
      inspector: {
        inspect(flow: Flow, dir: FlowDirection, payload: Uint8Array) {
          seen.push([flow.id, dir, new TextDecoder().decode(payload)]);
        },
      },
    },
  );
  assert.equal(flows.length, 1);
  // The flow's first packet came from the server, so the server side is forward (0).
  assert.deepEqual(seen, [[1, 0, "220 Welcome\r"], [1, 1, "USER anonymo"]]);
});

Deno.test("FlowTable separates flows by protocol, ports and address family", async () => {
  const { flows } = await flowsOf(pcap([
    at(0, ethernet(ipPacket({ src: C, dst: S, proto: "udp", sport: 5000, dport: 53 }))),
    at(1, ethernet(ipPacket({ src: S, dst: C, proto: "udp", sport: 53, dport: 5000 }))),
    at(
      2,
      ethernet(ipPacket({ src: C, dst: S, proto: "tcp", sport: 5000, dport: 53, flags: TCP.SYN })),
    ),
    at(3, ethernet(ipPacket({ src: C, dst: S, proto: "udp", sport: 5001, dport: 53 }))),
    at(
      4,
      ethernet(ipPacket({ src: "fe80::1", dst: "fe80::2", proto: "udp", sport: 5000, dport: 53 })),
    ),
    at(5, ethernet(ipPacket({ src: C, dst: S, proto: "icmp", icmpType: 8, icmpId: 77 }))),
    at(6, ethernet(ipPacket({ src: S, dst: C, proto: "icmp", icmpType: 0, icmpId: 77 }))),
  ]));
  assert.deepEqual(
    flows.map((f) => [f.protocol, f.srcPort, f.dstPort, f.packets[0], f.packets[1]]),
    [[17, 5000, 53, 1, 1], [6, 5000, 53, 1, 0], [17, 5001, 53, 1, 0], [17, 5000, 53, 1, 0], [
      1,
      77,
      77,
      1,
      1,
    ]],
  );
  assert.equal(flows[3]!.dstAddress, "fe80::2");
});

Deno.test("FlowTable emits a closed flow after the linger time, residual packets extend it", async () => {
  const other = (ms: number) =>
    at(
      ms,
      ethernet(ipPacket({ src: "10.9.9.9", dst: "10.9.9.8", proto: "udp", sport: 1, dport: 2 })),
    );
  const order: string[] = [];
  const frames: Frame[] = [
    at(0, tcp(true, TCP.SYN)),
    at(1, tcp(true, TCP.FIN | TCP.ACK)),
    at(2, tcp(false, TCP.FIN | TCP.ACK)),
    other(5_000),
    at(6_000, tcp(true, TCP.ACK)), // residual, within the linger: stays, and restarts the linger
    other(15_000), // 9 s after the residual ACK: still open
    other(16_500), // 10.5 s after it: the closed flow goes out before this packet is added
  ];
  const { flows } = await flowsOf(pcap(frames), { closedLingerUs: 10_000_000 });
  for (const f of flows) order.push(`${f.protocol}:${f.totalPackets}:${f.endReason}`);
  assert.deepEqual(order, ["6:4:fin", "17:3:eof"]);
});

Deno.test("FlowTable passes every later payload of a followed flow to the inspector", async () => {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const followed: string[] = [];
  await flowsOf(
    pcap([
      at(0, tcp(false, TCP.ACK | TCP.PSH, { seq: 1, payload: enc.encode("220 FTP ready\r\n") })),
      at(1, tcp(true, TCP.ACK | TCP.PSH, { seq: 1, payload: enc.encode("PASV\r\n") })),
      at(
        2,
        tcp(false, TCP.ACK | TCP.PSH, {
          seq: 16,
          payload: enc.encode("227 Entering Passive Mode (10,1,0,2,4,1)\r\n"),
        }),
      ),
      at(3, tcp(true, TCP.ACK)),
    ]),
    {
      payloadBytes: 4,
      inspector: {
        inspect: (_flow, _dir, payload) => dec.decode(payload) === "220 " ? "follow" : undefined,
        follow: (_flow, dir, view) => {
          const p = view.buf.subarray(
            view.payloadOffset,
            view.payloadOffset + view.payloadCaptured,
          );
          followed.push(`${dir}:${dec.decode(p).trim()}`);
        },
      },
    },
  );
  assert.deepEqual(followed, ["1:PASV", "0:227 Entering Passive Mode (10,1,0,2,4,1)"]);
});
