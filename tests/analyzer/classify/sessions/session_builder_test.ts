import assert from "node:assert/strict";
import { SessionBuilder } from "../../../../src/analyzer/classify/sessions/session_builder.ts";
import { Flow } from "../../../../src/analyzer/flows/flow.ts";

const ip = (s: string) => [s.split(".").reduce((a, o) => a * 256 + Number(o), 0), 0, 0, 0];

function flow(
  id: number,
  src: string,
  dst: string,
  dstPort: number,
  firstS: number,
  lastS: number,
  protocol = 6,
): Flow {
  const f = new Flow(id, {
    ipVersion: 4,
    protocol,
    src: ip(src),
    srcPort: 40000 + id,
    dst: ip(dst),
    dstPort,
  });
  f.firstUs = firstS * 1e6;
  f.lastUs = lastS * 1e6;
  return f;
}

Deno.test("SessionBuilder joins one client's flows to one service within the gap", () => {
  const b = new SessionBuilder({ gapUs: 10e6 });
  const s1 = b.serviceSession(flow(1, "10.0.0.2", "10.0.0.1", 443, 0, 5));
  assert.equal(b.serviceSession(flow(2, "10.0.0.2", "10.0.0.1", 443, 12, 20)), s1);
  assert.equal(b.serviceSession(flow(3, "10.0.0.2", "10.0.0.1", 443, 29, 30)), s1, "gap from 20");
  const later = b.serviceSession(flow(4, "10.0.0.2", "10.0.0.1", 443, 41, 42));
  assert.notEqual(later, s1, "11 s after the last flow: a new session");
  assert.notEqual(b.serviceSession(flow(5, "10.0.0.3", "10.0.0.1", 443, 41, 42)), later, "client");
  assert.notEqual(b.serviceSession(flow(6, "10.0.0.2", "10.0.0.1", 80, 41, 42)), later, "port");
  assert.notEqual(b.serviceSession(flow(7, "10.0.0.2", "10.0.0.1", 443, 41, 42, 17)), later, "UDP");
  assert.equal(b.sessions, 5);
});

Deno.test("SessionBuilder hands an announced data connection its control session", () => {
  const b = new SessionBuilder({ expectationUs: 60e6 });
  const control = flow(1, "10.0.0.2", "10.0.0.1", 21, 0, 100);
  const s = b.serviceSession(control);
  b.expect("10.0.0.1", 40083, s, "ftp", 5e6);
  assert.deepEqual(b.dataSession(flow(2, "10.0.0.2", "10.0.0.1", 40083, 6, 7)), [s, "ftp"]);
  assert.equal(b.dataSession(flow(3, "10.0.0.2", "10.0.0.1", 40084, 6, 7)), undefined, "port");
  assert.equal(b.dataSession(flow(4, "10.0.0.2", "10.0.0.1", 40083, 6, 7, 17)), undefined, "UDP");
  assert.equal(b.dataSession(flow(5, "10.0.0.2", "10.0.0.1", 40083, 66, 67)), undefined, "expired");
  // The same passive port announced again by a later session: each flow gets the one in force
  // when it started, whatever the order the flows are emitted in.
  b.expect("10.0.0.1", 40083, 99, "ftp", 20e6);
  assert.deepEqual(b.dataSession(flow(6, "10.0.0.2", "10.0.0.1", 40083, 21, 22)), [99, "ftp"]);
  assert.deepEqual(b.dataSession(flow(7, "10.0.0.2", "10.0.0.1", 40083, 6, 7)), [s, "ftp"]);
  assert.equal(b.dataSession(flow(8, "10.0.0.2", "10.0.0.1", 40083, 4, 5)), undefined, "before");
  // Calling serviceSession again with the control's session extends, not replaces, it.
  assert.equal(b.serviceSession(control, s), s);
});

Deno.test("SessionBuilder forgets the least recently used pairs past maxTracked", () => {
  const b = new SessionBuilder({ maxTracked: 2 });
  const s1 = b.serviceSession(flow(1, "10.0.0.2", "10.0.0.1", 1, 0, 1));
  b.serviceSession(flow(2, "10.0.0.2", "10.0.0.1", 2, 0, 1));
  b.serviceSession(flow(3, "10.0.0.2", "10.0.0.1", 3, 0, 1));
  assert.notEqual(b.serviceSession(flow(4, "10.0.0.2", "10.0.0.1", 1, 2, 3)), s1);
  assert.throws(() => new SessionBuilder({ gapUs: -1 }), RangeError);
});
