import type { DomainConfig } from "../../shared/config/components.ts";
import type { Settings } from "../../shared/config/settings.ts";
import type { StepName } from "../filters/domain_chain.ts";
import type { StatsSnapshot } from "../filters/statstore_http_stats.ts";
import type { LogLevel } from "../../shared/log/logger.ts";
import type { Decision, RunnerDropReason } from "./chain_runner.ts";

/** Messages from the ingest thread to a chain worker. */
export type ToWorker =
  | { t: "init"; settings: Settings; global: DomainConfig; worker: number; logLevel: LogLevel }
  | { t: "configure"; id: number; domainId: number; config: DomainConfig }
  | { t: "global"; global: DomainConfig }
  | { t: "remove"; id: number; domainId: number }
  | {
    t: "batch";
    seq: number;
    count: number;
    /**
     * Per record: ingest sequence number, domain id, event time (ms), end of its body in
     * `bytes`, where the wire bodies lie one after another, not yet decoded.
     */
    buffers: BatchBuffers;
  }
  | { t: "sweep"; now: number }
  | { t: "stats"; id: number }
  | { t: "close"; id: number };

/** The typed arrays of one batch (whole buffers, each record's bytes within `bytes`). */
export interface BatchBuffers {
  seqs: Float64Array<ArrayBuffer>;
  domains: Uint32Array<ArrayBuffer>;
  nows: Float64Array<ArrayBuffer>;
  ends: Uint32Array<ArrayBuffer>;
  bytes: Uint8Array<ArrayBuffer>;
}

/** A record a worker did not filter: a duplicate request id, or a body it could not decode. */
export interface WorkerDrop {
  reason: RunnerDropReason;
  domainId: number;
  detail?: string;
}

/** Messages from a chain worker to the ingest thread. */
export type FromWorker =
  | { t: "ack"; id: number; error?: string; steps?: StepName[]; skipped?: string[] }
  | {
    t: "done";
    seq: number;
    /**
     * The batch's decisions as JSON text ({@linkcode DecisionPacker}; "" for none): under a
     * flood most records decide something, and the ingest thread parses that several times
     * faster than it deserializes as many small objects.
     */
    decisions: string;
    drops: WorkerDrop[];
    /** Records of the batch whose processing raised (counted as pipeline errors). */
    errors: number;
    telemetry: string[];
    /** The batch's buffers, transferred back for the ingest thread to fill again. */
    buffers: BatchBuffers;
  }
  | {
    t: "stats";
    id: number;
    snapshot: StatsSnapshot;
    /** CPU seconds (user + system) this worker's thread has used. */
    cpu: number;
  };

/** Items per decision in the flat array of a "done" message (see {@linkcode DecisionPacker}). */
const ITEMS = 11;
/** The flat array's value of a sample field when a decision has no sample. */
const NO_SAMPLE = -1;
/** The flat array's value of an empty list of events or flags. */
const NO_LIST = -1;
const EMPTY = Object.freeze([]) as unknown as string[];

/**
 * A worker's decisions of one batch as the JSON text of `[strings, items]`: per decision, its
 * record's ingest sequence number (the decision's tag), domain, client, events, flags, time and
 * sample (method, host, URL, status, User-Agent). Every string is an index into `strings`,
 * which holds each once: a flood repeats the same few clients, events and User-Agents, and
 * the text to write and parse shrinks about 4×. The worker number is left out: the lane
 * the answer comes from knows it.
 */
export class DecisionPacker {
  #items: number[] = [];
  #strings: string[] = [];
  #index = new Map<string, number>();

  add(d: Decision): void {
    const items = this.#items;
    items.push(d.tag ?? 0, d.domainId, this.#ref(d.ip), this.#refs(d.events), this.#refs(d.flags));
    items.push(d.now);
    const s = d.sample;
    if (s === undefined) items.push(NO_SAMPLE, NO_SAMPLE, NO_SAMPLE, 0, NO_SAMPLE);
    else {
      items.push(this.#ref(s.method), this.#ref(s.host), this.#ref(s.url), s.status);
      items.push(this.#ref(s.ua));
    }
  }

  /** The JSON text of the decisions added since the last call ("" for none). */
  take(): string {
    if (this.#items.length === 0) return "";
    const text = JSON.stringify([this.#strings, this.#items]);
    this.#items = [];
    this.#strings = [];
    this.#index.clear();
    return text;
  }

  #ref(text: string): number {
    let at = this.#index.get(text);
    if (at === undefined) {
      at = this.#strings.push(text) - 1;
      this.#index.set(text, at);
    }
    return at;
  }

  /**
   * A list of names as one index: of the names joined by "\n" (event and flag names hold no
   * newline), or NO_LIST for an empty list.
   */
  #refs(list: readonly string[]): number {
    if (list.length === 0) return NO_LIST;
    return this.#ref(list.length === 1 ? list[0]! : list.join("\n"));
  }
}

/** The decisions of one "done" message, read in order by the ingest thread. */
export class PackedDecisions {
  readonly #strings: string[];
  readonly #items: number[];
  /** Lists already split, by index into strings (each events/flags value is split once). */
  readonly #lists = new Map<number, string[]>();
  #at = 0;

  constructor(text: string) {
    [this.#strings, this.#items] = JSON.parse(text) as [string[], number[]];
  }

  /** The ingest sequence number of the next decision (Infinity when none is left). */
  get seq(): number {
    return this.#at < this.#items.length ? this.#items[this.#at]! : Infinity;
  }

  /** The next decision, from worker `worker`. */
  next(worker: number): Decision {
    const items = this.#items;
    const strings = this.#strings;
    const at = this.#at;
    this.#at += ITEMS;
    const decision: Decision = {
      domainId: items[at + 1]!,
      ip: strings[items[at + 2]!]!,
      events: this.#list(items[at + 3]!),
      flags: this.#list(items[at + 4]!),
      worker,
      now: items[at + 5]!,
    };
    if (items[at + 6] !== NO_SAMPLE) {
      decision.sample = {
        method: strings[items[at + 6]!]!,
        host: strings[items[at + 7]!]!,
        url: strings[items[at + 8]!]!,
        status: items[at + 9]!,
        ua: strings[items[at + 10]!]!,
      };
    }
    return decision;
  }

  #list(index: number): string[] {
    if (index === NO_LIST) return EMPTY;
    let list = this.#lists.get(index);
    if (list === undefined) {
      list = this.#strings[index]!.split("\n");
      this.#lists.set(index, list);
    }
    // Shared by the decisions of this answer: the list manager only reads events and flags.
    return list;
  }
}
