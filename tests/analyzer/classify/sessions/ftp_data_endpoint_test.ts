import assert from "node:assert/strict";
import { ftpDataEndpoint } from "../../../../src/analyzer/classify/sessions/ftp_data_endpoint.ts";

Deno.test("ftpDataEndpoint() reads PASV and EPSV replies", () => {
  assert.deepEqual(ftpDataEndpoint("227 Entering Passive Mode (10,200,6,1,156,86).", true), {
    address: "10.200.6.1",
    port: 156 * 256 + 86,
    active: false,
  });
  assert.deepEqual(ftpDataEndpoint("227 =10,200,6,1,0,21", true)?.port, 21);
  assert.deepEqual(ftpDataEndpoint("229 Entering Extended Passive Mode (|||40083|)", true), {
    address: undefined,
    port: 40083,
    active: false,
  });
  assert.equal(ftpDataEndpoint("229 Extended (!!!6446!)", true)?.port, 6446);
});

Deno.test("ftpDataEndpoint() reads PORT and EPRT commands (IPv4 and IPv6)", () => {
  assert.deepEqual(ftpDataEndpoint("PORT 10,200,6,2,218,67", false), {
    address: "10.200.6.2",
    port: 218 * 256 + 67,
    active: true,
  });
  assert.deepEqual(ftpDataEndpoint("eprt |1|132.235.1.2|6275|", false)?.address, "132.235.1.2");
  assert.deepEqual(ftpDataEndpoint("EPRT |2|1080:0:0:0:8:800:200C:417A|5282|", false), {
    address: "1080::8:800:200c:417a",
    port: 5282,
    active: true,
  });
});

Deno.test("ftpDataEndpoint() ignores other lines and malformed announcements", () => {
  for (
    const [line, fromServer] of [
      ["227 Entering Passive Mode (10,200,6,1,300,1).", true], // octet > 255
      ["227 Entering Passive Mode (10,200,6,1,0,0).", true], // port 0
      ["229 Entering Extended Passive Mode (|||70000|)", true],
      ["229 Entering Extended Passive Mode (||40083|)", true],
      ["PORT 10,200,6,2,218", false],
      ["EPRT |3|10.0.0.1|21|", false], // unknown address family
      ["EPRT |2|1::2::3|21|", false],
      ["PORT 10,200,6,2,218,67", true], // a server does not send PORT
      ["227 Entering Passive Mode (10,200,6,1,156,86).", false], // nor a client 227
      ["RETR pub/a.bin", false],
    ] as const
  ) assert.equal(ftpDataEndpoint(line, fromServer), undefined, line);
});
