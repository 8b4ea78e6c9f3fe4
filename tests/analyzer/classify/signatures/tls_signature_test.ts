import assert from "node:assert/strict";
import {
  parseClientHello,
  tlsSignature,
} from "../../../../src/analyzer/classify/signatures/tls_signature.ts";
import { clientHello, input } from "./_input.ts";

Deno.test("tlsSignature() takes the SNI of a ClientHello as the domain", () => {
  const m = tlsSignature(input(clientHello({ sni: "Sun1.UserAPI.com", alpn: ["h2", "http/1.1"] })));
  assert.deepEqual(m, { protocol: "tls", detail: "client_hello", domain: "sun1.userapi.com" });
  assert.deepEqual(parseClientHello(clientHello({ sni: "a.b", alpn: ["h2"] }))?.alpn, ["h2"]);
});

Deno.test("tlsSignature() finds the SNI behind other extensions", () => {
  const hello = clientHello({ sni: "facebook.com", padBefore: 300 });
  assert.equal(tlsSignature(input(hello))?.domain, "facebook.com");
});

Deno.test("tlsSignature() names TLS without a domain when the SNI is past the bytes kept", () => {
  const hello = clientHello({ sni: "facebook.com", padBefore: 300 }).subarray(0, 200);
  assert.deepEqual(tlsSignature(input(hello)), { protocol: "tls", detail: "client_hello" });
  assert.equal(tlsSignature(input(clientHello()))?.domain, undefined, "no SNI at all");
});

Deno.test("tlsSignature() names a flow whose responder sends a ServerHello", () => {
  const server = Uint8Array.from([0x16, 3, 3, 0, 60, 2, 0, 0, 56, 3, 3]);
  assert.equal(tlsSignature(input("", server))?.detail, "server_hello");
});

Deno.test("tlsSignature() rejects near misses", () => {
  const ok = clientHello({ sni: "x.example" });
  const variant = (i: number, v: number) => {
    const b = ok.slice();
    b[i] = v;
    return b;
  };
  for (
    const [name, fwd] of [
      ["application data record", variant(0, 0x17)],
      ["record version 3.5", variant(2, 5)],
      ["ServerHello from the initiator", variant(5, 2)],
      ["client version 2.x", variant(9, 2)],
      ["session id of 33 bytes", clientHello({ sessionId: 33 })],
      ["record length 0", Uint8Array.from([0x16, 3, 1, 0, 0, 1])],
    ] as const
  ) assert.equal(tlsSignature(input(fwd)), undefined, name);
  assert.equal(tlsSignature(input(ok, "", { protocol: 17 })), undefined, "UDP");
});
