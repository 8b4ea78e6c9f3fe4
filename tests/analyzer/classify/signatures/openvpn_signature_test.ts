import assert from "node:assert/strict";
import { openvpnSignature } from "../../../../src/analyzer/classify/signatures/openvpn_signature.ts";
import { be16, bytes } from "./_input.ts";
import { input } from "./_input.ts";

const session = [1, 2, 3, 4, 5, 6, 7, 8];
/** P_CONTROL_HARD_RESET_CLIENT_V2, key 0, no tls-auth: opcode, session, ack len 0, packet id 0. */
const clientReset = bytes([7 << 3], session, [0], [0, 0, 0, 0]);
/** P_CONTROL_HARD_RESET_SERVER_V2 acknowledging packet 0 of the client's session. */
const serverReset = (remote: number[], hmac = 0) =>
  bytes([8 << 3], [9, 9, 9, 9, 9, 9, 9, 9], new Array(hmac).fill(0x5a), [1, 0, 0, 0, 0], remote, [
    0,
    0,
    0,
    0,
  ]);
const tcp = (b: Uint8Array) => bytes(be16(b.length), b);

Deno.test("openvpnSignature() names a client reset answered by a server reset (UDP and TCP)", () => {
  const udp = { protocol: 17, dstPort: 5000 };
  assert.equal(
    openvpnSignature(input(clientReset, serverReset(session), udp))?.protocol,
    "openvpn",
  );
  assert.equal(
    openvpnSignature(input(tcp(clientReset), tcp(serverReset(session)), { dstPort: 443 }))
      ?.protocol,
    "openvpn",
  );
});

Deno.test("openvpnSignature() finds the client's session id behind a tls-auth HMAC", () => {
  // With tls-auth the client packet carries HMAC, packet id and time after the session id.
  const client = bytes([7 << 3], session, new Array(28).fill(0x33), [0], [0, 0, 0, 0]);
  const m = openvpnSignature(input(client, serverReset(session, 28), { protocol: 17, dstPort: 1 }));
  assert.equal(m?.protocol, "openvpn");
});

Deno.test("openvpnSignature() accepts an unanswered bare reset on TCP or on port 1194 only", () => {
  assert.equal(
    openvpnSignature(input(tcp(clientReset), "", { dstPort: 1195 }))?.protocol,
    "openvpn",
  );
  assert.equal(
    openvpnSignature(input(clientReset, "", { protocol: 17, dstPort: 1194 }))?.protocol,
    "openvpn",
  );
  assert.equal(
    openvpnSignature(input(clientReset, "", { protocol: 17, dstPort: 5000 })),
    undefined,
  );
});

Deno.test("openvpnSignature() rejects near misses", () => {
  const udp = { protocol: 17, dstPort: 1194 };
  const keyId1 = clientReset.slice();
  keyId1[0] = (7 << 3) | 1;
  const dataV2 = clientReset.slice();
  dataV2[0] = 9 << 3;
  for (
    const [name, fwd, bwd] of [
      ["key id 1", keyId1, serverReset(session)],
      ["data packet opcode", dataV2, serverReset(session)],
      ["server ack of another session", clientReset, serverReset([8, 7, 6, 5, 4, 3, 2, 1])],
      ["server answers with a client reset", clientReset, clientReset],
      ["too short", clientReset.subarray(0, 10), new Uint8Array(0)],
    ] as const
  ) assert.equal(openvpnSignature(input(fwd, bwd, udp)), undefined, name);
  // TCP: a length prefix that does not fit.
  assert.equal(openvpnSignature(input(bytes([0, 3], clientReset), "")), undefined);
});
