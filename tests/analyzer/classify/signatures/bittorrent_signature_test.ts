import assert from "node:assert/strict";
import {
  bittorrentSignature,
  isDhtMessage,
} from "../../../../src/analyzer/classify/signatures/bittorrent_signature.ts";
import { bytes, input } from "./_input.ts";

const id = "A".repeat(20);
const handshake = bytes([19], "BitTorrent protocol", new Array(8).fill(0), "H".repeat(20), id);
const ping = bytes(`d1:ad2:id20:${id}e1:q4:ping1:t2:aa1:y1:qe`);
const pong = bytes(`d1:rd2:id20:${"B".repeat(20)}e1:t2:aa1:y1:re`);

Deno.test("bittorrentSignature() names the peer handshake in either direction", () => {
  assert.deepEqual(bittorrentSignature(input(handshake)), {
    protocol: "bittorrent",
    detail: "handshake",
  });
  assert.equal(bittorrentSignature(input("\x00\x01", handshake))?.detail, "handshake");
});

Deno.test("bittorrentSignature() names DHT queries and replies", () => {
  assert.equal(bittorrentSignature(input(ping, pong, { protocol: 17 }))?.detail, "dht");
  const getPeers = bytes(
    `d1:ad2:id20:${id}9:info_hash20:${"I".repeat(20)}e1:q9:get_peers1:t2:bb1:y1:qe`,
  );
  assert.equal(isDhtMessage(getPeers), true);
  assert.equal(isDhtMessage(bytes("d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee")), true);
  // Cut by the snap length: the fixed prefix with a whole node id.
  assert.equal(isDhtMessage(getPeers.subarray(0, 40)), true);
});

Deno.test("bittorrentSignature() names a UDP tracker connect", () => {
  const connect = bytes([0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 1, 2, 3, 4]);
  assert.equal(bittorrentSignature(input(connect, "", { protocol: 17 }))?.detail, "udp_tracker");
});

Deno.test("bittorrentSignature() rejects near misses", () => {
  for (
    const [name, fwd] of [
      ["protocol string misspelt", bytes([19], "BitTorrent protocoX")],
      ["length byte 18", bytes([18], "BitTorrent protocol")],
    ] as const
  ) assert.equal(bittorrentSignature(input(fwd)), undefined, name);
  for (
    const [name, fwd] of [
      ["unknown message type", bytes(`d1:ad2:id20:${id}e1:q4:ping1:t2:aa1:y1:xe`)],
      ["unknown query", bytes(`d1:ad2:id20:${id}e1:q4:pong1:t2:aa1:y1:qe`)],
      ["node id of 5 bytes", bytes("d1:ad2:id5:abcdee1:q4:ping1:t2:aa1:y1:qe")],
      ["keys out of order", bytes(`d1:y1:q1:ad2:id20:${id}e1:q4:ping1:t2:aae`)],
      ["no transaction id", bytes(`d1:ad2:id20:${id}e1:q4:ping1:y1:qe`)],
      ["bencoded list", bytes("l4:spami42ee")],
      ["JSON", bytes('{"a":1}')],
    ] as const
  ) assert.equal(bittorrentSignature(input(fwd, "", { protocol: 17 })), undefined, name);
  // A DHT query answered by something that is not DHT.
  assert.equal(
    bittorrentSignature(input(ping, "HTTP/1.1 200 OK\r\n", { protocol: 17 })),
    undefined,
  );
});

/** uTP header: type/version, extension, connection id, timestamps, window, seq_nr, ack_nr. */
function utp(type: number, conn: number, seq: number, ack: number): Uint8Array {
  return bytes(
    [(type << 4) | 1, 0, conn >> 8, conn & 255],
    [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 16, 0],
    [seq >> 8, seq & 255, ack >> 8, ack & 255],
  );
}

Deno.test("bittorrentSignature() names a uTP SYN answered on its connection id", () => {
  const m = bittorrentSignature(
    input(utp(4, 0x1234, 7, 0), utp(2, 0x1234, 99, 7), { protocol: 17 }),
  );
  assert.deepEqual(m, { protocol: "bittorrent", detail: "utp" });
  for (
    const [name, fwd, bwd] of [
      ["answer on another connection id", utp(4, 0x1234, 7, 0), utp(2, 0x1235, 99, 7)],
      ["answer acking another seq_nr", utp(4, 0x1234, 7, 0), utp(2, 0x1234, 99, 8)],
      ["no answer", utp(4, 0x1234, 7, 0), new Uint8Array(0)],
      ["version 2", bytes([0x42], utp(4, 0x1234, 7, 0).subarray(1)), utp(2, 0x1234, 99, 7)],
      ["data packet first", utp(0, 0x1234, 7, 0), utp(2, 0x1234, 99, 7)],
    ] as const
  ) assert.equal(bittorrentSignature(input(fwd, bwd, { protocol: 17 })), undefined, name);
});
