import assert from "node:assert/strict";
import {
  ftpSignature,
  isGreeting220,
} from "../../../../src/analyzer/classify/signatures/ftp_signature.ts";
import { bytes, input } from "./_input.ts";

Deno.test("ftpSignature() names a 220 greeting followed by an FTP command", () => {
  assert.equal(ftpSignature(input("USER anonymous\r\n", "220 Welcome\r\n"))?.protocol, "ftp");
  assert.equal(ftpSignature(input("AUTH TLS\r\n", "220-Hello\r\n220 there\r\n"))?.protocol, "ftp");
  assert.equal(ftpSignature(input("FEAT\r\n", "220 (vsFTPd 3.0.3)\r\n"))?.protocol, "ftp");
});

Deno.test("ftpSignature() names a greeting that says FTP, or any greeting on port 21", () => {
  assert.equal(ftpSignature(input("", "220 ProFTPD Server ready.\r\n"))?.protocol, "ftp");
  assert.equal(ftpSignature(input("", "220 Welcome\r\n", { dstPort: 21 }))?.protocol, "ftp");
});

Deno.test("ftpSignature() rejects SMTP and other near misses", () => {
  for (
    const [fwd, bwd, port] of [
      ["EHLO client.example\r\n", "220 mx.example ESMTP Postfix\r\n", 25],
      ["EHLO client.example\r\n", "220 Welcome\r\n", 21], // the client speaks SMTP
      ["", "220 mx.example ESMTP ready, ftp relay\r\n", 25],
      ["", "220 Welcome\r\n", 2121], // nothing says FTP
      ["USER x\r\n", "+OK POP3 ready\r\n", 110],
      ["", "221 Goodbye\r\n", 21],
      ["", "220 Welcome", 21], // no complete line yet
    ] as const
  ) {
    assert.equal(ftpSignature(input(fwd, bwd, { dstPort: port })), undefined, bwd);
  }
  assert.equal(isGreeting220(bytes("2200 x\r\n")), false);
});
