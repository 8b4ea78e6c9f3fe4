import assert from "node:assert/strict";
import {
  telnetCommands,
  telnetSignature,
} from "../../../../src/analyzer/classify/signatures/telnet_signature.ts";
import { bytes, input } from "./_input.ts";

Deno.test("telnetSignature() names the option negotiation of a server or client", () => {
  // inetutils telnetd: DO TERMINAL-TYPE, DO TSPEED, DO XDISPLOC, DO NEW-ENVIRON.
  const server = bytes([255, 253, 24, 255, 253, 32, 255, 253, 35, 255, 253, 39]);
  assert.equal(telnetSignature(input("", server, { dstPort: 2323 }))?.protocol, "telnet");
  const client = bytes([255, 251, 24, 255, 250, 24, 0, ...bytes("XTERM"), 255, 240], "root\r\n");
  assert.equal(telnetCommands(client), 2);
  assert.equal(telnetSignature(input(client, "", { dstPort: 2323 }))?.protocol, "telnet");
});

Deno.test("telnetSignature() needs one command on port 23, two elsewhere", () => {
  const one = bytes([255, 251, 1], "login: ");
  assert.equal(telnetSignature(input("", one, { dstPort: 23 }))?.protocol, "telnet");
  assert.equal(telnetSignature(input("", one, { dstPort: 2323 })), undefined);
});

Deno.test("telnetSignature() rejects malformed negotiation and binary data", () => {
  for (
    const [name, b] of [
      ["unassigned option", bytes([255, 251, 99, 255, 251, 1])],
      ["IAC followed by a data byte", bytes([255, 0, 255, 251, 1])],
      ["escaped 0xFF (data)", bytes([255, 255, 1, 2, 3])],
      ["no IAC", bytes("login: ")],
    ] as const
  ) assert.equal(telnetSignature(input("", b, { dstPort: 23 })), undefined, name);
  assert.equal(
    telnetSignature(input(bytes([255, 251, 1, 255, 251, 3]), "", { protocol: 17 })),
    undefined,
  );
});
