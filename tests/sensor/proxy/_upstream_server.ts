/**
 * An upstream for the proxy's end-to-end tests, run as its own process:
 * `http <port> <name>` answers `<name> <path>` (and `/healthz`), `ws <port>` echoes WebSocket
 * messages as `echo:<message>`, `tcp <port>` echoes bytes and closes after the client's
 * half-close. Prints "ready" when it listens.
 * @module
 */
const [mode, portText, name = "upstream"] = Deno.args;
const port = Number(portText);
if (mode === "http" || mode === "ws") {
  Deno.serve({ hostname: "127.0.0.1", port, onListen: () => console.log("ready") }, (req) => {
    if (mode === "ws") {
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onmessage = (e) => socket.send(`echo:${e.data}`);
      return response;
    }
    return new Response(`${name} ${new URL(req.url).pathname}\n`);
  });
} else if (mode === "tcp") {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  console.log("ready");
  for await (const conn of listener) {
    void (async () => {
      const buf = new Uint8Array(65536);
      try {
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) break;
          let off = 0;
          while (off < n) off += await conn.write(buf.subarray(off, n));
        }
      } catch { /* reset */ }
      conn.close();
    })();
  }
} else {
  console.error(`unknown mode ${mode}`);
  Deno.exit(2);
}
