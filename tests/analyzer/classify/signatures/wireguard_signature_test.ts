import assert from "node:assert/strict";
import { wireguardSignature } from "../../../../src/analyzer/classify/signatures/wireguard_signature.ts";
import { bytes, input } from "./_input.ts";

/** Handshake initiation: type 1, reserved, sender index, 140 bytes of keys/MACs (RFC-less spec). */
const initiation = (sender: number[], type = 1, length = 148) =>
  bytes([type, 0, 0, 0], sender, new Array(length - 8).fill(0x42));
/** Handshake response: type 2, reserved, sender index, receiver index, 84 more bytes. */
const response = (receiver: number[]) =>
  bytes([2, 0, 0, 0], [7, 7, 7, 7], receiver, new Array(80).fill(0x24));
const UDP = { protocol: 17, dstPort: 4500 };

Deno.test("wireguardSignature() names an initiation answered for its sender index", () => {
  const m = wireguardSignature(input(initiation([1, 2, 3, 4]), response([1, 2, 3, 4]), UDP));
  assert.deepEqual(m, { protocol: "wireguard", detail: "handshake" });
});

Deno.test("wireguardSignature() accepts an unanswered initiation on port 51820 only", () => {
  const i = initiation([1, 2, 3, 4]);
  assert.equal(
    wireguardSignature(input(i, "", { protocol: 17, dstPort: 51820 }))?.detail,
    "initiation",
  );
  assert.equal(wireguardSignature(input(i, "", UDP)), undefined);
});

Deno.test("wireguardSignature() rejects near misses", () => {
  const reserved = initiation([1, 2, 3, 4]);
  reserved[2] = 1;
  for (
    const [name, fwd, bwd] of [
      ["answer for another index", initiation([1, 2, 3, 4]), response([4, 3, 2, 1])],
      ["147-byte initiation", initiation([1, 2, 3, 4], 1, 147), response([1, 2, 3, 4])],
      ["reserved bytes set", reserved, response([1, 2, 3, 4])],
      ["cookie reply first", initiation([1, 2, 3, 4], 3), response([1, 2, 3, 4])],
      ["response of 91 bytes", initiation([1, 2, 3, 4]), response([1, 2, 3, 4]).subarray(0, 91)],
    ] as const
  ) assert.equal(wireguardSignature(input(fwd, bwd, UDP)), undefined, name);
  assert.equal(
    wireguardSignature(input(initiation([1, 2, 3, 4]), response([1, 2, 3, 4]), { dstPort: 51820 })),
    undefined,
    "TCP",
  );
});
