/**
 * Builds `tests/fixtures/tractor/clients.pcap`: clients in the test GeoIP networks talking HTTP,
 * DNS, TLS and SSH, so TrActor's per-IP details (country, city, user agent, domain name) have
 * something to find. Run `deno run --allow-write tests/tractor/_clients_capture.ts` to rewrite it;
 * the test checks the committed file equals what this builds.
 */
import {
  ethernet,
  ipPacket,
  type PacketSpec,
  pcap,
  TCP,
} from "../../shared/capture/_capture_builder.ts";

const enc = new TextEncoder();

/** Client addresses and what the capture contains for each. */
export const CLIENTS = {
  chicago: "198.51.100.7", // US / Chicago: two HTTP requests
  moscow: "203.0.113.5", // RU / Moscow: a DNS query and a TLS connection
  amsterdam: "2001:db8::5", // NL / Amsterdam: SSH
} as const;
export const SERVERS = {
  web: "192.0.2.10",
  dns: "192.0.2.53",
  tls: "192.0.2.20",
  ssh: "2001:db8::1",
} as const;
export const USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) qts-tractor-test/1.0";
export const HTTP_HOST = "www.example.com";
export const TLS_NAME = "vk.com";
export const DNS_NAME = "vk.com";
/** First packet: 2024-03-01 12:00:00 UTC. */
export const T0 = 1_709_294_400;

function tlsClientHello(name: string): Uint8Array {
  const host = enc.encode(name);
  const sni = [0, 0, 0, host.length + 5, 0, host.length + 3, 0, 0, host.length, ...host];
  const body = [
    3,
    3,
    ...new Array(32).fill(7),
    0, // session id
    0,
    2,
    0x13,
    0x01, // one cipher suite
    1,
    0, // compression: null
    0,
    sni.length,
    ...sni,
  ];
  const hs = [1, 0, body.length >> 8, body.length & 255, ...body];
  return Uint8Array.from([0x16, 3, 1, hs.length >> 8, hs.length & 255, ...hs]);
}

function dnsQuery(name: string, id: number): Uint8Array {
  const q: number[] = [id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
  for (const label of name.split(".")) q.push(label.length, ...enc.encode(label));
  q.push(0, 0, 1, 0, 1);
  return Uint8Array.from(q);
}

interface Packet {
  t: number;
  spec: PacketSpec;
}

function tcpSession(
  t: number,
  client: string,
  sport: number,
  server: string,
  dport: number,
  request: Uint8Array,
  response: Uint8Array,
): Packet[] {
  const c = { src: client, dst: server, proto: "tcp" as const, sport, dport };
  const s = { src: server, dst: client, proto: "tcp" as const, sport: dport, dport: sport };
  return [
    { t, spec: { ...c, flags: TCP.SYN, seq: 100 } },
    { t: t + 0.01, spec: { ...s, flags: TCP.SYN | TCP.ACK, seq: 500, ack: 101 } },
    { t: t + 0.02, spec: { ...c, flags: TCP.ACK, seq: 101, ack: 501 } },
    {
      t: t + 0.03,
      spec: { ...c, flags: TCP.PSH | TCP.ACK, seq: 101, ack: 501, payload: request },
    },
    {
      t: t + 0.05,
      spec: {
        ...s,
        flags: TCP.PSH | TCP.ACK,
        seq: 501,
        ack: 101 + request.length,
        payload: response,
      },
    },
    {
      t: t + 0.06,
      spec: {
        ...c,
        flags: TCP.FIN | TCP.ACK,
        seq: 101 + request.length,
        ack: 501 + response.length,
      },
    },
    {
      t: t + 0.07,
      spec: {
        ...s,
        flags: TCP.FIN | TCP.ACK,
        seq: 501 + response.length,
        ack: 102 + request.length,
      },
    },
    {
      t: t + 0.08,
      spec: { ...c, flags: TCP.ACK, seq: 102 + request.length, ack: 502 + response.length },
    },
  ];
}

/** The capture's bytes (deterministic). */
export function clientsCapture(): Uint8Array {
  const http = (path: string) =>
    enc.encode(
      `GET ${path} HTTP/1.1\r\nHost: ${HTTP_HOST}\r\nUser-Agent: ${USER_AGENT}\r\n` +
        `Accept: */*\r\n\r\n`,
    );
  const ok = enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  const packets: Packet[] = [
    ...tcpSession(0, CLIENTS.chicago, 40001, SERVERS.web, 80, http("/"), ok),
    ...tcpSession(1, CLIENTS.chicago, 40002, SERVERS.web, 80, http("/about"), ok),
    {
      t: 2,
      spec: {
        src: CLIENTS.moscow,
        dst: SERVERS.dns,
        proto: "udp",
        sport: 53001,
        dport: 53,
        payload: dnsQuery(DNS_NAME, 0x1234),
      },
    },
    {
      t: 2.02,
      spec: {
        src: SERVERS.dns,
        dst: CLIENTS.moscow,
        proto: "udp",
        sport: 53,
        dport: 53001,
        payload: dnsQuery(DNS_NAME, 0x1234).map((b, i) => (i === 2 ? 0x81 : b)),
      },
    },
    ...tcpSession(
      3,
      CLIENTS.moscow,
      41001,
      SERVERS.tls,
      443,
      tlsClientHello(TLS_NAME),
      Uint8Array.from([0x16, 3, 3, 0, 4, 2, 0, 0, 0]),
    ),
    ...tcpSession(
      4,
      CLIENTS.amsterdam,
      42001,
      SERVERS.ssh,
      22,
      enc.encode("SSH-2.0-OpenSSH_9.2p1\r\n"),
      enc.encode("SSH-2.0-OpenSSH_9.6\r\n"),
    ),
  ];
  packets.sort((a, b) => a.t - b.t);
  return pcap(
    packets.map((p) => ({
      tsUs: T0 * 1e6 + Math.round(p.t * 1e6),
      data: ethernet(ipPacket(p.spec)),
    })),
  );
}

/** Where the committed fixture lives. */
export const CLIENTS_CAPTURE = new URL("../../fixtures/tractor/clients.pcap", import.meta.url);

if (import.meta.main) {
  await Deno.writeFile(CLIENTS_CAPTURE, clientsCapture());
  console.log(`wrote ${CLIENTS_CAPTURE.pathname}`);
}
