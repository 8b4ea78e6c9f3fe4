import assert from "node:assert/strict";
import { ConnIo } from "../../../src/sensor/proxy/conn_io.ts";
import {
  encodeProxyHeader,
  ProxyProtocolError,
  readProxyHeader,
} from "../../../src/sensor/proxy/proxy_protocol.ts";

function ioOf(data: Uint8Array) {
  let given = false;
  return new ConnIo({
    read(p: Uint8Array) {
      if (given) return Promise.resolve(null);
      given = true;
      p.set(data);
      return Promise.resolve(data.length);
    },
    write: (p: Uint8Array) => Promise.resolve(p.length),
    close() {},
  });
}

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("readProxyHeader() takes an IPv4-mapped address on a TCP6 line and spells v1 addresses canonically (fuzz)", async () => {
  const mapped = await readProxyHeader(
    ioOf(text("PROXY TCP6 ::FFFF:192.0.2.9 2001:DB8::1 1 2\r\n")),
  );
  assert.deepEqual(mapped, {
    source: "::ffff:c000:209",
    destination: "2001:db8::1",
    sourcePort: 1,
    destinationPort: 2,
  });
  // The same client through v2 reads the same.
  const v2 = await readProxyHeader(
    ioOf(encodeProxyHeader(2, { ip: "::ffff:192.0.2.9", port: 1 }, { ip: "2001:db8::1", port: 2 })),
  );
  assert.deepEqual(v2, mapped);
  const v4 = await readProxyHeader(ioOf(text("PROXY TCP4 192.0.2.9 198.51.100.1 1 2\r\n")));
  assert.equal(v4.source, "192.0.2.9");
  for (
    const line of ["PROXY TCP4 ::ffff:1.2.3.4 1.2.3.4 1 2\r\n", "PROXY TCP6 1.2.3.4 ::1 1 2\r\n"]
  ) {
    await assert.rejects(readProxyHeader(ioOf(text(line))), ProxyProtocolError, line);
  }
});

Deno.test("encodeProxyHeader() writes a TCP4 line in dotted text even for a mapped address (fuzz)", async () => {
  const line = encodeProxyHeader(1, { ip: "::ffff:192.0.2.9", port: 5 }, {
    ip: "10.0.0.1",
    port: 80,
  });
  assert.equal(new TextDecoder().decode(line), "PROXY TCP4 192.0.2.9 10.0.0.1 5 80\r\n");
  const io = ioOf(line);
  assert.deepEqual(await readProxyHeader(io), {
    source: "192.0.2.9",
    destination: "10.0.0.1",
    sourcePort: 5,
    destinationPort: 80,
  });
  assert.equal(io.buffered, 0, "exactly the header consumed");
});
