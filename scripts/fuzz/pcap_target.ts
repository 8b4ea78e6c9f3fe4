/**
 * Fuzz target: pcap/pcapng through `CaptureReader`, `decodePacket` and the `FlowTable` (with
 * `flowFeatures` on every flow), on mutated small captures: ones built by the test builder and
 * real ones from tests/fixtures. Properties: nothing is thrown (a bad capture ends in
 * `reader.error`, a `CaptureError` with an offset inside the input); packets are bounded by
 * the input size; flows are all emitted after `flush()`.
 * @module
 */

import { CaptureError, CaptureReader, decodePacket } from "../../src/shared/capture/mod.ts";
import { flowFeatures, FlowTable } from "../../src/analyzer/flows/mod.ts";
import {
  ethernet,
  type Frame,
  ipPacket,
  nullLoop,
  pcap,
  pcapng,
  sll,
  sll2,
  TCP,
} from "../../tests/shared/capture/_capture_builder.ts";
import { mutateBytes } from "./_mutate.ts";
import type { Rng } from "./_random.ts";
import { type FuzzTarget, property } from "./_target.ts";

const T0 = 1_700_000_000_000_000;
const STREAMED = 0x80;

function frames(wrap: (ip: Uint8Array) => Uint8Array): Frame[] {
  const a = "10.0.0.1";
  const b = "10.0.0.2";
  const specs = [
    { src: a, dst: b, proto: "tcp" as const, sport: 1234, dport: 80, flags: TCP.SYN },
    { src: b, dst: a, proto: "tcp" as const, sport: 80, dport: 1234, flags: TCP.SYN | TCP.ACK },
    {
      src: a,
      dst: b,
      proto: "tcp" as const,
      sport: 1234,
      dport: 80,
      seq: 1,
      payload: new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    },
    {
      src: "2001:db8::1",
      dst: "2001:db8::2",
      proto: "udp" as const,
      sport: 5353,
      dport: 53,
      payload: 20,
      ext: [0, 44],
    },
    { src: "10.0.0.3", dst: "10.0.0.4", proto: "icmp" as const, icmpType: 8, payload: 8 },
    { src: a, dst: b, proto: "udp" as const, sport: 53, dport: 53, frag: 0x2000 | 3 },
    { src: b, dst: a, proto: "tcp" as const, sport: 80, dport: 1234, flags: TCP.FIN | TCP.ACK },
    { src: a, dst: b, proto: "tcp" as const, sport: 1234, dport: 80, flags: TCP.RST },
  ];
  return specs.map((s, i) => ({ tsUs: T0 + i * 700_000, data: wrap(ipPacket(s)) }));
}

/** The seed corpus: built captures over every link type and both containers. */
function builtCaptures(): Uint8Array[] {
  return [
    pcap(frames((ip) => ethernet(ip, [7]))),
    pcap(frames(sll2), { linkType: 276, nanos: true, bigEndian: true }),
    pcap(frames(sll), { linkType: 113 }),
    pcap(frames(nullLoop), { linkType: 0, snaplen: 40 }),
    pcap(frames((ip) => ip), { linkType: 101 }),
    pcapng(
      [{ linkType: 1 }, { linkType: 101, tsresol: 9 }],
      frames((ip) => ip).map((f, i) => ({
        iface: 1,
        ...f,
        ...(i === 2 ? { kind: "spb" as const, iface: 0, data: ethernet(f.data) } : {}),
      })),
    ),
  ];
}

const FIXTURES = [
  "tests/fixtures/pcap-http-requests/requests.pcap",
  "tests/fixtures/tractor/clients.pcap",
  "tests/fixtures/captures/loopback-sll2.pcap",
  "tests/fixtures/captures/loopback-sll2.nsec.pcap",
  "tests/fixtures/captures/loopback-sll2.pcapng",
];

/** Reads the fixture captures (cut to 4 KiB: small inputs keep the rate high). */
function fixtureCaptures(root: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const file of FIXTURES) {
    try {
      out.push(Deno.readFileSync(`${root}/${file}`).subarray(0, 4096));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return out;
}

function source(bytes: Uint8Array, chunk: number) {
  let at = 0;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (at >= bytes.length) return Promise.resolve(null);
      const n = Math.min(p.length, bytes.length - at, chunk);
      p.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
}

/** Options of {@linkcode pcapTarget}. */
export interface PcapTargetOptions {
  /** Repository root (fixtures are read from it). Default: the current directory. */
  root?: string;
}

/** The capture target. */
export function pcapTarget(options: PcapTargetOptions = {}): FuzzTarget {
  const bases = [...builtCaptures(), ...fixtureCaptures(options.root ?? ".")];
  const kinds: Record<string, number> = { whole: 0, streamed: 0 };
  return {
    name: "pcap",
    kinds,
    generate(rng: Rng) {
      const base = rng.pick(bases);
      const bytes = rng.chance(0.05) ? base : mutateBytes(base, rng, 6);
      // Selector: streamed through a small buffer with a given chunk size, or whole.
      const selector = rng.chance(0.1) ? STREAMED | (1 + rng.below(127)) : 0;
      const input = new Uint8Array(1 + bytes.length);
      input[0] = selector;
      input.set(bytes, 1);
      return input;
    },
    async check(input) {
      const bytes = input.subarray(1);
      const streamed = (input[0]! & STREAMED) !== 0;
      kinds[streamed ? "streamed" : "whole"]!++;
      const reader = new CaptureReader(
        streamed ? source(bytes, input[0]! & 0x7f) : bytes,
        streamed ? { bufferBytes: 64, maxRecordBytes: 1 << 16 } : { maxRecordBytes: 1 << 16 },
      );
      let emitted = 0;
      const table = new FlowTable(
        { payloadBytes: 16, inspector: { inspect() {}, ready: () => false } },
        (flow) => {
          emitted++;
          const features = flowFeatures(flow);
          for (const value of Object.values(features)) {
            property(
              typeof value !== "number" || !Number.isNaN(value),
              "a flow feature is NaN",
            );
          }
        },
      );
      await reader.forEach((view) => {
        if (decodePacket(view) === 0) table.add(view);
      });
      table.flush();
      const error = reader.error;
      if (error !== undefined) {
        property(error instanceof CaptureError, () => `reader.error is ${String(error)}`);
        property(
          error.offset >= 0 && error.offset <= bytes.length,
          () => `error offset ${error.offset} outside the ${bytes.length}-byte input`,
        );
      }
      property(
        reader.packets <= bytes.length / 12 + 1,
        () => `${reader.packets} packets from ${bytes.length} bytes`,
      );
      property(table.stats.open === 0, () => `${table.stats.open} flows open after flush()`);
      property(
        emitted === table.stats.flowsCreated,
        () => `${table.stats.flowsCreated} flows created, ${emitted} emitted`,
      );
    },
  };
}
