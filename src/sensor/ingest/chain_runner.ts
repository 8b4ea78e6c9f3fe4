import type { ComponentName, DomainConfig } from "../../shared/config/components.ts";
import type { ComponentBuilder, ObserverBuilder, StepName } from "../filters/domain_chain.ts";
import type { StatsSnapshot } from "../filters/statstore_http_stats.ts";
import type { HttpRecord } from "../wire/record.ts";
import type { RejectReason } from "../wire/decode_record.ts";

/** The request behind a decision, kept as ban evidence (what the person on call reads). */
export interface RequestSample {
  method: string;
  host: string;
  url: string;
  /** 0 when the request was decided before its response. */
  status: number;
  ua: string;
}

/** What the chain decided for one request: its events, for the list manager. */
export interface Decision {
  domainId: number;
  ip: string;
  events: string[];
  /** Flags set to true (projections' skip_if reads them). */
  flags: string[];
  /** 1-based worker number (`wrk_<n>`). */
  worker: number;
  /** Event time of the request (ms). */
  now: number;
  /** The `tag` given to LocalRunner.submit (a worker's ingest sequence number). */
  tag?: number;
  /** The request itself (fields cut to a few hundred characters), for ban evidence. */
  sample?: RequestSample;
}

/** Runs filter chains; in this thread ({@linkcode LocalRunner}) or in Web Workers. */
export interface ChainRunner {
  /** Filters one decoded record; `body` is its wire bytes (workers decode their own copy). */
  submit(domainId: number, record: HttpRecord, body: Uint8Array, now: number): void | Promise<void>;
  /**
   * Filters one record from its undecoded wire bytes, when the runner decodes where the chain
   * runs (workers): the ingest thread then only routes. A body that does not decode comes back
   * through {@linkcode RunnerSinks.drop} with the decoder's reason.
   */
  submitBody?(domainId: number, body: Uint8Array, now: number): void | Promise<void>;
  /**
   * Builds or rebuilds a domain's chain; throws (keeping the previous chain) when it cannot.
   * A domain's first chain is built leniently: components that fail are left out and their
   * errors returned, so a broken script does not stop a domain's traffic from being filtered.
   */
  configure(domainId: number, config: DomainConfig): Promise<string[]>;
  /** True when the domain has a chain. */
  has(domainId: number): boolean;
  /** The global components changed (fixed_lists catalogue, telemetry…). */
  setGlobal(global: DomainConfig): void;
  remove(domainId: number): Promise<void>;
  sweep(now: number): void;
  /** Steps in force for a domain (for /stats). */
  steps(domainId: number): StepName[] | undefined;
  /** statstore counters of every thread, merged. */
  stats(): StatsSnapshot;
  /** Resolves when every record submitted so far has been decided. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** The component factories a runner builds chains with (tests may wrap the built-in ones). */
export interface ChainFactories {
  builders: Partial<Record<ComponentName, ComponentBuilder>>;
  observers: Partial<Record<ComponentName, ObserverBuilder>>;
}

/** Why a runner dropped a record after routing (`qts_input_dropped_total{reason}`). */
export type RunnerDropReason = "duplicate" | "worker_failed" | RejectReason;

/** Callbacks of a runner into the main thread. */
export interface RunnerSinks {
  decide(decision: Decision): void;
  /**
   * A record dropped after routing: a duplicate request id, a body that did not decode in a
   * worker (submitBody), with the decoder's detail, or a record lost with a worker that died.
   */
  drop(
    reason: "duplicate" | "worker_failed" | RejectReason,
    domainId: number,
    detail?: string,
  ): void;
  /** Records whose processing raised in a worker (qts_pipeline_errors_total). */
  failed?(count: number): void;
}
