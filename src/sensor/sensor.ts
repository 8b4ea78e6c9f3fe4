import { join } from "node:path";
import { createApi } from "./api/create_api.ts";
import { ConfigActions } from "./api/config_actions.ts";
import { Autoreload } from "./autoreload.ts";
import { ConfigStore } from "../shared/config/config_store.ts";
import { type GeoIp, noGeoIp, openGeoIp } from "../shared/geo/geoip.ts";
import { isLoopback, type Settings } from "../shared/config/settings.ts";
import type { FilterEnv } from "./ingest/chain_builders.ts";
import { HttpStats, renderPrometheus } from "./filters/statstore_http_stats.ts";
import type { ChainRunner, RunnerSinks } from "./ingest/chain_runner.ts";
import { InputDrain } from "./ingest/input_drain.ts";
import { LocalRunner } from "./ingest/local_runner.ts";
import { Pipeline } from "./ingest/pipeline.ts";
import { DecisionClock } from "./ingest/record_clock.ts";
import { WorkerRunner } from "./ingest/worker_runner.ts";
import { ListManager } from "./lm/list_manager.ts";
import type { Logger } from "../shared/log/logger.ts";
import { Metrics } from "../shared/metrics/metrics.ts";
import { liveRe2Count, re2Stats } from "../shared/config/regex.ts";
import { CommandPublisher } from "./outbound/command_publisher.ts";
import type { HttpRecord } from "./wire/record.ts";
import {
  type CurveOptions,
  curvePublicKey,
  PubSocket,
  PullSocket,
  SubSocket,
  type ZmtpLogger,
} from "./zmtp/mod.ts";
import { SyslogInput } from "./syslog/syslog_input.ts";
import { createPool } from "./proxy/create_pool.ts";
import { ProxyBanList } from "./proxy/proxy_ban_list.ts";
import { ProxyServer } from "./proxy/proxy_server.ts";
import type { ProxySettings } from "./proxy/proxy_settings.ts";
import { encodeHeader, encodeRecord } from "./wire/mod.ts";

const encoder = new TextEncoder();

// Seconds: the issue's targets sit at 10 s, 30 s, 1, 3 and 5 minutes.
const TIME_TO_BAN_BUCKETS = [1, 5, 10, 30, 60, 180, 300, 1800] as const;

/** Options of {@linkcode Sensor}. */
export interface SensorOptions {
  settings: Settings;
  log: Logger;
  /** Event time; wall clock by default, a RecordClock for replay. */
  clock?: { now(): number; observe?(record: HttpRecord): void };
  /** Country lookup for commands; default: the `geoip_db` database, or "" without one. */
  geo?: (ip: string) => string;
  /** No DNS lookups (replay): decisions must not depend on the machine's resolver. */
  offline?: boolean;
  /**
   * With workers = 0: records run through the chain in batches of this many (Lua entered once
   * a batch), decided when the batch fills or at the runner's settled(). For replay of logs,
   * whose records are all at hand; a live sensor decides each record as it arrives.
   */
  chainBatch?: number;
  /**
   * With workers = 0 (default true): the records an input has already received when the chain
   * gets to them (what the ZeroMQ socket queued, up to 64) run as one batch, decided as soon as
   * that backlog is through; false runs each alone (for the test that both decide alike).
   */
  batchInput?: boolean;
  /** The `[proxy]` settings: with `enabled`, the proxy runs in this process (SPEC: issue 22). */
  proxy?: ProxySettings | undefined;
}

/**
 * The running sensor: input socket → pipeline → list manager → outbound PUB, plus the REST API
 * and the timers (30 s tick, autodiscover). `start()` binds everything; `close()` releases it
 * and saves ban state.
 */
export class Sensor {
  readonly settings: Settings;
  readonly store: ConfigStore;
  readonly metrics = new Metrics();
  publisher: CommandPublisher;
  readonly lm: ListManager;
  readonly pipeline: Pipeline;
  readonly runner: ChainRunner;
  /** Runs what an input has at hand as one chain batch (workers = 0). */
  readonly #drain: InputDrain;
  readonly #log: Logger;
  #telemetry: PubSocket | undefined;
  readonly #clock: { now(): number; observe?(record: HttpRecord): void };
  #input: PullSocket | SubSocket | undefined;
  #syslog: SyslogInput | undefined;
  #proxy: ProxyServer | undefined;
  #proxyBans: ProxyBanList | undefined;
  /** The pipeline's promise for a proxy record still being handled (records keep their order). */
  #proxyPending: Promise<void> | undefined;
  readonly #proxySettings: ProxySettings | undefined;
  #geo: GeoIp = noGeoIp();
  #server: Deno.HttpServer | undefined;
  #timers: ReturnType<typeof setInterval>[] = [];
  #autoreload: Autoreload | undefined;
  #loop: Promise<void> | undefined;
  #started = 0;
  /** Bound addresses (real ports when configured with port 0 in tests). */
  readonly bound = { input: "", outbound: "", api: "", syslog: "" };

  constructor(options: SensorOptions) {
    this.settings = options.settings;
    this.#log = options.log;
    this.#clock = options.clock ?? Date;
    this.#proxySettings = options.proxy;
    this.store = new ConfigStore(this.settings);
    this.publisher = new CommandPublisher(this.metrics);
    const hostname = this.settings.hostname || Deno.hostname();
    const decisionClock = new DecisionClock(this.#clock);
    this.lm = new ListManager({
      emit: (cmd) => this.publisher.publish(cmd),
      hostname,
      geo: options.geo ?? ((ip) => this.#geo.country(ip)),
      clock: decisionClock,
      workerPrefix: this.store.global.qpc.worker,
      stateFile: this.settings.state_dir
        ? join(this.settings.state_dir, "lm-state.json")
        : undefined,
      // Bans durable before they are published (a kill -9 loses none and repeats none). Not for
      // replay (offline): its state_dir is thrown away and it counts commands at a barrier.
      journalFile: this.settings.state_dir && !options.offline
        ? join(this.settings.state_dir, "lm-journal.jsonl")
        : undefined,
      log: (level, msg, fields) => this.#log.log(level, msg, fields),
      onBan: ({ rule_name, seconds, simulated }) =>
        this.metrics.observe(
          "qts_time_to_ban_seconds",
          "From a source's first matching event to its ban, by rule",
          { rule_name, simulated: simulated ? "true" : "false" },
          seconds,
          TIME_TO_BAN_BUCKETS,
        ),
    });
    const env: FilterEnv = {
      settings: this.settings,
      global: () => this.store.global,
      log: this.#log,
      stats: new HttpStats(),
      publishTelemetry: (json) => this.#telemetry?.send([encoder.encode(json)]),
      ...(options.offline ? { offline: true } : {}),
    };
    const sinks: RunnerSinks = {
      decide: (decision) => this.pipeline.decide(decision),
      drop: (reason, domainId, detail) => this.pipeline.dropped(reason, domainId, detail),
      failed: (count) =>
        this.#failed(new Error(`${count} records raised in a chain worker`), count),
    };
    // workers = 0 runs the chain on the ingest thread (replay's exact event order); n > 0 runs
    // it in n Web Workers with records sharded by client IP.
    this.runner = this.settings.workers === 0 ? new LocalRunner(env, sinks) : new WorkerRunner({
      workers: this.settings.workers,
      settings: this.settings,
      global: this.store.global,
      logLevel: this.settings.log_level,
      sinks,
      publishTelemetry: env.publishTelemetry!,
      metrics: this.metrics,
      log: this.#log,
    });
    if (options.chainBatch !== undefined && this.runner instanceof LocalRunner) {
      this.runner.batch(options.chainBatch);
    }
    this.#drain = new InputDrain({
      ingest: (frames) => this.ingest(frames),
      runner: this.runner instanceof LocalRunner && options.batchInput !== false
        ? this.runner
        : undefined,
      failed: (error) => this.#failed(error),
    });
    this.pipeline = new Pipeline({
      store: this.store,
      lm: this.lm,
      metrics: this.metrics,
      log: this.#log,
      clock: this.#clock,
      runner: this.runner,
      env,
      decisionClock,
      maxBody: this.settings.max_body,
      domainCap: this.settings.domain_cap,
      domainIdleMs: this.settings.domain_idle * 1000,
    });
  }

  #collect(): void {
    const m = this.metrics;
    m.set(
      "qts_outbound_subscribers",
      "Subscribers connected to the outbound PUB",
      {},
      this.publisher.subscribers,
    );
    m.set(
      "qts_bans_active",
      "Active bans over all domains",
      {},
      this.lm.domainIds().reduce((n, id) => n + this.lm.bans(id).length, 0),
    );
    const lm = this.lm.persistence();
    m.counter(
      "qts_lm_state_write_failures_total",
      "Failed writes of the ban state file or journal (a full disk); bans stay in memory",
    ).value = lm.write_failures;
    m.set(
      "qts_lm_journal_bytes",
      "Size of the ban journal since the last state file",
      {},
      lm.journal_bytes,
    );
    m.set("qts_lm_commands_held", "Commands waiting for their journal fsync", {}, lm.held);
    m.set("qts_lm_state_durable", "1 when every published ban is on disk", {}, lm.durable ? 1 : 0);
    m.set(
      "qts_regex_re2_live",
      "RE2 patterns compiled in WebAssembly memory now",
      {},
      liveRe2Count(),
    );
    m.counter(
      "qts_regex_re2_recompiles_total",
      "RE2 patterns compiled again after eviction (more than 2,048 RE2 patterns in use)",
    ).value = re2Stats.recompiles;
    m.counter(
      "qts_regex_re2_oom_flushes_total",
      "Times RE2's WebAssembly heap filled and every cached pattern was freed to compile a new one",
    ).value = re2Stats.oom_flushes;
    if (this.runner instanceof LocalRunner) {
      const { batches, records } = this.runner.batches;
      m.counter(
        "qts_chain_batches_total",
        "Chain runs on the ingest thread (one record, or a batch that enters Lua once)",
      ).value = batches;
      m.counter(
        "qts_chain_batch_records_total",
        "Records those chain runs carried (divided by qts_chain_batches_total: records per batch)",
      ).value = records;
    }
    if (this.runner instanceof WorkerRunner) {
      this.runner.cpu().forEach((seconds, i) => {
        m.counter(
          "qts_worker_cpu_seconds_total",
          "CPU time of each chain worker's thread (user + system)",
          { worker: `wrk_${i + 1}` },
        ).value = seconds;
      });
    }
    const stats = this.#input?.stats;
    if (stats) {
      for (const [reason, count] of Object.entries(stats.disconnected)) {
        m.set("qts_input_disconnects", "Input connections ended, by reason", { reason }, count);
      }
    }
  }

  /**
   * Loads configuration and state, binds the input, serves the API, then binds the outbound PUB
   * (so a bouncer that connects can resync at once), and starts the ingest loop.
   */
  async start(): Promise<void> {
    this.#started = Date.now();
    this.metrics.collect(() => this.#collect());
    this.metrics.append(() => renderPrometheus(this.runner.stats()));
    const s = this.settings;
    if (s.state_dir) await Deno.mkdir(s.state_dir, { recursive: true, mode: 0o700 });
    const inputCurve = await loadCurve(
      s.curve_secret_key_file,
      s.curve_authorized_keys_file,
    );
    const outboundCurve = await loadCurve(
      s.qpc_curve_secret_key_file,
      s.qpc_curve_authorized_keys_file,
    );
    if (outboundCurve) {
      // Before anything publishes: the list manager emits through this.publisher.
      this.publisher = new CommandPublisher(this.metrics, outboundCurve);
    }
    for (
      const [what, host, curve] of [
        [
          "input",
          s.input_socket === "pull" ? s.input.host : "127.0.0.1",
          inputCurve,
        ],
        ["outbound", s.qpc_outbound.host, outboundCurve],
      ] as const
    ) {
      if (!isLoopback(host) && !curve) {
        // parseSettings refused this unless allow_insecure_bind = true.
        this.#log.log(
          "warn",
          `${what} binds off loopback without CURVE: anyone who reaches it can ${
            what === "input" ? "feed records and so ban any IP" : "read every ban command"
          }`,
          { host },
        );
      }
    }
    if (s.geoip_db) {
      try {
        this.#geo = await openGeoIp(s.geoip_db);
      } catch (error) {
        // A missing database must not stop the sensor: commands carry geo "" until it exists.
        this.#log.log("error", "GeoIP database not loaded, geo will be empty", {
          path: s.geoip_db,
          error: (error as Error).message,
        });
      }
    }
    await this.store.load();
    for (const [file, message] of this.store.problems) {
      // The error says what runs instead: a domain file never loaded puts its domain on defaults.
      this.#log.log("error", "configuration file rejected", {
        file,
        error: message,
      });
    }
    const restored = await this.lm.restore();
    this.#log.log("info", "ban state restored", { bans: restored });
    if (s.telemetry_outbound !== "") {
      this.#telemetry = new PubSocket({ hwm: 10_000 });
      await this.#telemetry.bind(s.telemetry_outbound);
    }
    await this.pipeline.start();

    // Oversized messages are skipped by the socket (the connection stays up) and counted with
    // the pipeline's drops, so qts_input_dropped_total{reason="oversized"} moves.
    const logger: ZmtpLogger = (event, fields) => {
      if (event === "oversized") {
        this.metrics.inc(
          "qts_input_dropped_total",
          "Input messages dropped, by reason",
          {
            reason: "oversized",
          },
        );
        this.#log.limited("drop:oversized", "warn", "input message dropped", {
          reason: "oversized",
          detail: `${fields.bytes} bytes over ${fields.limit}`,
        });
      } else if (event === "refuse" && fields.reason === "auth_failed") {
        this.#log.limited("input-auth", "warn", "input client refused", fields);
      }
    };
    const inputOptions = {
      maxFrame: s.max_body,
      logger,
      ...(inputCurve ? { curve: inputCurve } : {}),
    };
    if (s.input_socket === "sub") {
      const sub = new SubSocket(inputOptions);
      sub.subscribe("http:");
      sub.connect(s.input.text);
      this.#input = sub;
      this.bound.input = s.input.text;
    } else {
      const pull = new PullSocket(inputOptions);
      this.bound.input = await pull.bind(s.input.text);
      this.#input = pull;
    }
    if (s.syslog_input) {
      // Stock nginx lines become records and enter exactly like ZeroMQ messages, so routing,
      // force_domains and drop counting are the same for both inputs.
      this.#syslog = new SyslogInput({
        endpoint: s.syslog_input,
        metrics: this.metrics,
        submit: (domainId, record) =>
          this.pipeline.handleFrames([encodeHeader(domainId), encodeRecord(record)]),
      });
      this.bound.syslog = await this.#syslog.start();
    }

    const { store, pipeline, metrics } = this;
    const actions = new ConfigActions({ store, pipeline, metrics, log: this.#log });
    const app = createApi({
      actions,
      store: this.store,
      pipeline: this.pipeline,
      lm: this.lm,
      metrics: this.metrics,
      log: this.#log,
      token: s.api_token,
      uptime: () => Date.now() - this.#started,
      stats: (id) => ({ http: this.runner.stats().domains[id] ?? null }),
      proxy: this.#proxySettings?.enabled ? () => this.#proxy?.status() : undefined,
    });
    const ready = Promise.withResolvers<void>();
    this.#server = Deno.serve({
      hostname: s.api_server_host,
      port: s.api_server_port,
      onListen: ({ hostname, port }) => {
        this.bound.api = `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
        ready.resolve();
      },
    }, app.fetch);
    await ready.promise;
    // The API serves before the PUB binds: a bouncer resyncs from GET /bans when its SUB
    // connects, so that request must find the API up. Nothing is lost before the bind: with no
    // subscriber connected, PUB would drop the commands anyway.
    this.bound.outbound = await this.publisher.bind(s.qpc_outbound.text);

    if (this.#proxySettings?.enabled) await this.#startProxy(this.#proxySettings);
    this.#timers.push(setInterval(() => this.pipeline.tick(), 30_000));
    this.#autoreload = new Autoreload({
      settings: s,
      log: this.#log,
      reload: (what, trigger) => actions.reload(what, trigger),
      isOwnWrite: (path) => actions.isOwnWrite(path),
    });
    await this.#autoreload.start();
    this.#loop = this.#ingest();
    this.#log.log("info", "qts serving", {
      input: this.bound.input,
      input_socket: s.input_socket,
      outbound: this.bound.outbound,
      api: this.bound.api,
      force_domains: s.force_domains,
    });
  }

  /**
   * The proxy in process: its records go straight into the pipeline (no ZeroMQ hop), and it
   * enforces the list manager's bans as they are published (or a remote sensor's with
   * `bans_from`), starting from the bans active now.
   */
  async #startProxy(settings: ProxySettings): Promise<void> {
    const bans = new ProxyBanList({ rules: settings.banRules });
    if (settings.bansFrom === "") {
      const now = Date.now();
      bans.replace(
        this.lm.domainIds().flatMap((id) =>
          this.lm.bans(id).filter((b) => !b.simulated).map((b) => ({
            domainId: id,
            ruleName: b.rule_name,
            ip: b.ip,
            expiresAt: now + (b.expires_at - this.#clock.now()),
          }))
        ),
      );
      const previous = this.publisher.onCommand;
      this.publisher.onCommand = (cmd, json) => {
        previous?.(cmd, json);
        bans.apply(cmd);
      };
    }
    // With `bans_from`, the proxy's start follows the remote sensor and waits for its bans.
    this.#proxy = new ProxyServer({
      settings,
      metrics: this.metrics,
      log: this.#log,
      bans,
      createPool: (options, where) => createPool(options, where, this.metrics, this.#log),
      submit: (domain, record) => this.#proxyRecord(domain, record),
    });
    this.#proxyBans = bans;
    await this.#proxy.start();
  }

  #proxyRecord(domain: number, record: HttpRecord): void {
    const run = () => {
      // Records other proxy connections hand over in this event-loop turn join its batch.
      this.#drain.gather(wait);
      try {
        // The encoded body too: worker runners take records as wire bytes.
        return this.pipeline.handleRecord(domain, record, encodeRecord(record));
      } catch (error) {
        this.#failed(error);
      }
    };
    const wait = (pending: Promise<void>) => {
      const before = this.#proxyPending;
      const tail: Promise<void> = (before ? Promise.all([before, pending]) : pending)
        .catch(() => {}).then(() => {
          if (this.#proxyPending === tail) this.#proxyPending = undefined;
        });
      this.#proxyPending = tail;
    };
    if (this.#proxyPending) return wait(this.#proxyPending.then(run));
    const pending = run();
    if (pending) wait(pending);
  }

  async #ingest(): Promise<void> {
    const input = this.#input!;
    for (let frames = await input.receive(); frames; frames = await input.receive()) {
      await this.#drain.drain(frames, () => input.tryReceive());
    }
  }

  /**
   * One input message (header frame, body frame) through the pipeline, exactly as the input
   * socket hands it over; replay of access logs calls it directly. Never throws. A returned
   * promise means: wait for it before the next message (a chain waits, or workers are full).
   */
  ingest(frames: Uint8Array[]): void | Promise<void> {
    try {
      const pending = this.pipeline.handleFrames(frames);
      if (pending) return pending.catch((error) => this.#failed(error));
    } catch (error) {
      this.#failed(error);
    }
  }

  /** A filter bug must not stop the input: count it and go on with the next record. */
  #failed(error: unknown, records = 1): void {
    this.metrics.inc(
      "qts_pipeline_errors_total",
      "Records that raised inside the pipeline",
      {},
      records,
    );
    this.#log.limited("pipeline-error", "error", "record processing failed", { error });
  }

  /** Stops input, API and timers; saves ban state. */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    await this.#autoreload?.close();
    await this.#proxy?.close();
    await this.#proxyBans?.close();
    await this.#proxyPending;
    await this.#input?.close();
    await this.#syslog?.close();
    await this.#loop;
    await this.#server?.shutdown();
    await this.pipeline.close();
    await this.lm.close();
    await this.publisher.close();
    await this.#telemetry?.close();
    this.#geo.close();
  }
}

/**
 * CURVE server options from a secret key file (one Z85 key) and an authorised-keys file (one
 * Z85 public key a line, `#` comments); undefined when no secret key file is set.
 */
async function loadCurve(
  secretFile: string,
  authorizedFile: string,
): Promise<CurveOptions | undefined> {
  if (secretFile === "") return undefined;
  const secretKey = (await Deno.readTextFile(secretFile)).trim();
  const authorizedKeys = (await Deno.readTextFile(authorizedFile)).split("\n")
    // "#" is a Z85 character: a comment starts a line or follows whitespace, never mid-key.
    .map((line) => line.replace(/(^|\s)#.*/, "").trim())
    .filter((line) => line !== "");
  return { secretKey, publicKey: curvePublicKey(secretKey), authorizedKeys };
}
