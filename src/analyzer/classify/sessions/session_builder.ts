import type { Flow } from "../../flows/flow.ts";
import { LruCache } from "../../../shared/cache/lru_cache.ts";

/** Options of {@linkcode SessionBuilder}. */
export interface SessionBuilderOptions {
  /** Flows of one client to one service closer than this (µs) share a session. Default 60 s. */
  gapUs?: number;
  /** How long an announced FTP data connection is expected (µs). Default 120 s. */
  expectationUs?: number;
  /** Bound on the client/service pairs and expectations remembered. Default 65,536. */
  maxTracked?: number;
}

interface Span {
  id: number;
  firstUs: number;
  lastUs: number;
}

interface Expectation {
  session: number;
  label: string;
  atUs: number;
  untilUs: number;
}

/** Announcements kept per address and port (a server reuses its passive ports). */
const PER_ENDPOINT = 4;

/** How a flow got its session. */
export type SessionRole = "control" | "data" | "service";

/**
 * Builds sessions (ИВС) out of flows (ТВС): an FTP control connection with the data connections
 * its PASV/EPSV replies and PORT/EPRT commands announce, and the flows of one client to one
 * service (address, port, protocol) that follow each other within a gap. Sessions are numbered
 * from 1 in the order they are opened. Memory is bounded by `maxTracked`.
 */
export class SessionBuilder {
  readonly #gap: number;
  readonly #ttl: number;
  /** client/service key → latest session span. */
  readonly #spans: LruCache<string, Span>;
  readonly #expect: LruCache<string, Expectation[]>;
  #next = 1;

  /** Creates an empty builder. */
  constructor(options: SessionBuilderOptions = {}) {
    this.#gap = options.gapUs ?? 60_000_000;
    this.#ttl = options.expectationUs ?? 120_000_000;
    const max = options.maxTracked ?? 65_536;
    this.#spans = new LruCache(max);
    this.#expect = new LruCache(max);
    if (!(this.#gap >= 0)) {
      throw new RangeError(`Invalid session gap ${this.#gap} µs: must be >= 0`);
    }
  }

  /** Sessions opened so far. */
  get sessions(): number {
    return this.#next - 1;
  }

  /**
   * Session of `flow` by client and service: joins the latest session of the same forward source
   * address and destination (address, port, protocol) when the flow starts within the gap of it,
   * else opens one. Calling it again for the same flow extends that session.
   */
  serviceSession(flow: Flow, current?: number): number {
    const key = `${flow.protocol}|${flow.srcAddress}|${flow.dstAddress}|${flow.dstPort}`;
    const span = this.#spans.get(key);
    if (
      span !== undefined && (current === undefined || current === span.id) &&
      flow.firstUs <= span.lastUs + this.#gap && flow.lastUs + this.#gap >= span.firstUs
    ) {
      span.firstUs = Math.min(span.firstUs, flow.firstUs);
      span.lastUs = Math.max(span.lastUs, flow.lastUs);
      this.#spans.set(key, span);
      return span.id;
    }
    const id = current ?? this.#next++;
    this.#spans.set(key, { id, firstUs: flow.firstUs, lastUs: flow.lastUs });
    return id;
  }

  /**
   * Records that a data connection to `address`:`port` (TCP) belongs to `session`, announced at
   * `nowUs` on a control connection whose flows carry `label`.
   */
  expect(address: string, port: number, session: number, label: string, nowUs: number): void {
    const key = `${address}|${port}`;
    const list = this.#expect.get(key) ?? [];
    list.push({ session, label, atUs: nowUs, untilUs: nowUs + this.#ttl });
    if (list.length > PER_ENDPOINT) list.shift();
    this.#expect.set(key, list);
  }

  /**
   * The announced data connection `flow` is, as [session, label], or undefined: the latest
   * announcement of its destination made before it started and still in force (a later session
   * may announce the same passive port again before this flow is emitted).
   */
  dataSession(flow: Flow): [number, string] | undefined {
    if (flow.protocol !== 6 || this.#expect.size === 0) return undefined;
    const list = this.#expect.get(`${flow.dstAddress}|${flow.dstPort}`);
    if (list === undefined) return undefined;
    let best: Expectation | undefined;
    for (const e of list) {
      if (e.atUs <= flow.firstUs && flow.firstUs <= e.untilUs && (!best || e.atUs > best.atUs)) {
        best = e;
      }
    }
    return best === undefined ? undefined : [best.session, best.label];
  }
}
