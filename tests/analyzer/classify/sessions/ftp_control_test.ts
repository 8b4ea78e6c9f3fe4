import assert from "node:assert/strict";
import { segment } from "./_segment.ts";
import { FtpControl } from "../../../../src/analyzer/classify/sessions/ftp_control.ts";
import type { FtpDataEndpoint } from "../../../../src/analyzer/classify/sessions/ftp_data_endpoint.ts";

const enc = new TextEncoder();

function follower(port = 21): { control: FtpControl; seen: FtpDataEndpoint[] } {
  const seen: FtpDataEndpoint[] = [];
  return { control: new FtpControl(port, (e) => seen.push(e)), seen };
}

Deno.test("FtpControl reports PASV and PORT announcements split across segments", () => {
  const { control, seen } = follower();
  control.feed(1, enc.encode("220 (vsFTPd 3.0.3)\r\n"));
  control.feedPacket(0, segment("USER anonymous\r\n", 1000));
  control.feedPacket(1, segment("227 Entering Passive Mo", 5000));
  control.feedPacket(1, segment("de (10,200,6,1,156,86).\r\n", 5023));
  control.feedPacket(0, segment("PORT 10,200,6,2,4,1\r\n", 1016));
  assert.equal(control.verdict, true);
  assert.deepEqual(seen.map((e) => [e.address, e.port, e.active]), [
    ["10.200.6.1", 156 * 256 + 86, false],
    ["10.200.6.2", 1025, true],
  ]);
  assert.deepEqual(control.lines, [2, 2]);
});

Deno.test("FtpControl skips retransmissions and drops a line broken by a gap", () => {
  const { control, seen } = follower();
  control.feed(1, enc.encode("220 ready\r\n"));
  control.feedPacket(0, segment("USER x\r\n", 100));
  const reply = "229 Entering Extended Passive Mode (|||40083|)\r\n";
  control.feedPacket(1, segment(reply, 9000));
  control.feedPacket(1, segment(reply, 9000)); // retransmission: no second announcement
  assert.equal(seen.length, 1);
  // Old bytes and new ones in one segment: only the new part counts.
  control.feedPacket(0, segment("USER x\r\nEPRT |1|10.0.0.2|2000|\r\n", 100));
  assert.deepEqual(seen.map((e) => e.port), [40083, 2000]);
  // A gap (lost segment) in the middle of a line: that line is dropped, the next one is read.
  control.feedPacket(1, segment("227 Entering Passive Mode (10,0", 9000 + reply.length));
  control.feedPacket(
    1,
    segment("0,1,2,0,50).\r\n227 =10,0,0,1,0,60\r\n", 9000 + reply.length + 40),
  );
  assert.deepEqual(seen.map((e) => e.port), [40083, 2000, 60]);
});

Deno.test("FtpControl stops at an SMTP conversation", () => {
  const { control, seen } = follower(25);
  control.feed(1, enc.encode("220 mx.example ESMTP\r\n"));
  control.feedPacket(0, segment("EHLO me\r\nPORT 10,0,0,1,0,20\r\n", 1));
  assert.equal(control.verdict, false);
  assert.equal(seen.length, 0);
});

Deno.test("FtpControl bounds a line: an endless line is skipped", () => {
  const { control, seen } = follower();
  control.feed(1, enc.encode("220 FTP\r\n"));
  control.feedPacket(1, segment(`227 ${"x".repeat(2000)}`, 10));
  control.feedPacket(1, segment("(10,0,0,1,0,70)\r\n227 (10,0,0,1,0,80)\r\n", 2014));
  assert.deepEqual(seen.map((e) => e.port), [80]);
});
