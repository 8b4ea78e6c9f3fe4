import assert from "node:assert/strict";
import { sshSignature } from "../../../../src/analyzer/classify/signatures/ssh_signature.ts";
import { input } from "./_input.ts";

Deno.test("sshSignature() names a flow from the client's identification string", () => {
  const m = sshSignature(input("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n\x00\x00\x05\xdc"));
  assert.equal(m?.protocol, "ssh");
  assert.equal(m?.detail, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
});

Deno.test("sshSignature() accepts server lines before the server's identification", () => {
  const m = sshSignature(input("", "Welcome to host\r\nSSH-1.99-Cisco-1.25\r\n"));
  assert.equal(m?.detail, "SSH-1.99-Cisco-1.25");
});

Deno.test("sshSignature() rejects near misses", () => {
  for (
    const [fwd, bwd] of [
      ["SSH-3.0-x\r\n", ""], // unknown protocol version
      ["SSH-2.0\r\n", ""], // no software version
      ["SSH-2.0-\r\n", ""],
      ["XSSH-2.0-x\r\n", ""],
      ["hello\r\nSSH-2.0-x\r\n", ""], // a client may not send lines first
      ["SSH-2.0-a\x01b\r\n", ""], // control byte
      ["", "\x00\x01binary\r\nSSH-2.0-x\r\n"],
    ]
  ) assert.equal(sshSignature(input(fwd!, bwd!)), undefined, JSON.stringify([fwd, bwd]));
});
