/**
 * Generates real traffic on 127.77.0.1 for the tshark comparison test: HTTP (curl and fetch
 * against Deno.serve), DNS-like UDP queries/answers (node:dgram) and FTP sessions (curl against a
 * minimal FTP server here, EPSV and PASV, with data connections). Run as a subprocess with
 * `--allow-net=127.77.0.1 --allow-run=curl`; prints a JSON summary and exits.
 */
import dgram from "node:dgram";

const HOST = "127.77.0.1";
const enc = new TextEncoder();

async function curl(args: string[]): Promise<void> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", "--max-time", "20", ...args],
    stdout: "null",
  })
    .output();
  if (!out.success) {
    throw new Error(`curl ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

// ---- HTTP ----
const body = "hello from qts ".repeat(3000);
const http = Deno.serve({ hostname: HOST, port: 0, onListen() {} }, () => new Response(body));
const httpPort = http.addr.port;

// ---- DNS-like UDP ----
const udpServer = dgram.createSocket("udp4");
udpServer.on("message", (msg, rinfo) => {
  const answer = new Uint8Array(msg.length + 16);
  answer.set(msg);
  answer[2] = 0x81;
  udpServer.send(answer, rinfo.port, rinfo.address);
});
await new Promise<void>((resolve) => udpServer.bind(0, HOST, resolve));
const udpPort = udpServer.address().port;

async function udpQuery(id: number, payload?: Uint8Array): Promise<void> {
  const client = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => client.bind(0, HOST, resolve));
  const query = new Uint8Array(29);
  query[0] = id >> 8;
  query[1] = id & 255;
  query.set(enc.encode("\x07example\x03com\x00\x00\x01\x00\x01"), 12);
  const answered = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no UDP answer within 5 s")), 5000);
    client.once("message", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  client.send(payload ?? query, udpPort, HOST);
  await answered;
  await new Promise<void>((resolve) => client.close(() => resolve()));
}

// ---- FTP ----
const file = "0123456789abcdef".repeat(8192);
const ftp = Deno.listen({ hostname: HOST, port: 0 });
const ftpPort = (ftp.addr as Deno.NetAddr).port;

async function ftpSession(conn: Deno.Conn): Promise<void> {
  const say = (s: string) => conn.write(enc.encode(`${s}\r\n`));
  let data: Deno.Listener | undefined;
  await say("220 qts test FTP");
  const decoder = new TextDecoder();
  let pending = "";
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    pending += decoder.decode(buf.subarray(0, n));
    let nl: number;
    while ((nl = pending.indexOf("\r\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 2);
      const cmd = line.split(" ")[0]!.toUpperCase();
      if (cmd === "USER") await say("331 password please");
      else if (cmd === "PASS") await say("230 logged in");
      else if (cmd === "PWD") await say('257 "/"');
      else if (cmd === "CWD") await say("250 ok");
      else if (cmd === "TYPE") await say("200 ok");
      else if (cmd === "SIZE") await say(`213 ${file.length}`);
      else if (cmd === "EPSV" || cmd === "PASV") {
        data = Deno.listen({ hostname: HOST, port: 0 });
        const p = (data.addr as Deno.NetAddr).port;
        await say(
          cmd === "EPSV"
            ? `229 Entering Extended Passive Mode (|||${p}|)`
            : `227 Entering Passive Mode (127,77,0,1,${p >> 8},${p & 255})`,
        );
      } else if (cmd === "RETR" && data) {
        await say("150 opening data connection");
        const dc = await data.accept();
        data.close();
        data = undefined;
        const bytes = enc.encode(file);
        for (let o = 0; o < bytes.length;) o += await dc.write(bytes.subarray(o));
        dc.close();
        await say("226 transfer complete");
      } else if (cmd === "QUIT") {
        await say("221 bye");
        conn.close();
        return;
      } else await say("502 not implemented");
    }
  }
  conn.close();
}
const ftpServing = (async () => {
  for await (const conn of ftp) ftpSession(conn).catch(() => {});
})();

// ---- clients ----
await curl([`http://${HOST}:${httpPort}/a`]);
await curl([`http://${HOST}:${httpPort}/b`]);
for (let i = 0; i < 4; i++) await udpQuery(0x1000 + i);
await curl(["-o", "/dev/null", `ftp://${HOST}:${ftpPort}/file.txt`]);
await curl(["--disable-epsv", "-o", "/dev/null", `ftp://${HOST}:${ftpPort}/file.txt`]);
await curl([`http://${HOST}:${httpPort}/c`]);

// The capturing test waits for this datagram to know the traffic is all on the wire.
await udpQuery(0, enc.encode("QTS-END-OF-TRAFFIC"));

ftp.close();
await ftpServing.catch(() => {});
await http.shutdown();
udpServer.close();
console.log(JSON.stringify({ httpPort, udpPort, ftpPort }));
