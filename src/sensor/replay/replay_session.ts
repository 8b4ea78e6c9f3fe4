import { join } from "node:path";
import { loadSettings, type Settings } from "../../shared/config/settings.ts";
import { LocalRunner } from "../ingest/local_runner.ts";
import { RecordClock } from "../ingest/record_clock.ts";
import type { BanCommand } from "../lm/command.ts";
import type { Logger, LogLevel } from "../../shared/log/logger.ts";
import { Sensor } from "../sensor.ts";
import { encodeHeader, encodeRecord, type HttpRecord } from "../wire/mod.ts";
import { PushSocket, SubSocket } from "../zmtp/mod.ts";
import type { FixtureConfig } from "./fixture.ts";

/** One line the sensor logged during a replay (warnings and errors are kept). */
export interface ReplayLogLine {
  level: LogLevel;
  msg: string;
  fields: Record<string, unknown>;
}

/** Options of {@linkcode ReplaySession.start}. */
export interface ReplaySessionOptions {
  /** INI overrides, components, domain files and extra files of the sensor under test. */
  config?: FixtureConfig | undefined;
  /** Longest wait for the sensor to catch up at a barrier. Default 60 s. */
  drainTimeoutMs?: number | undefined;
  /** Receives every warning and error the sensor logs (besides keeping them in `logs`). */
  onLog?: ((line: ReplayLogLine) => void) | undefined;
  /** Receives every command as it arrives on the SUB socket (parsed, and its JSON text). */
  onCommand?: ((cmd: BanCommand, json: string) => void) | undefined;
  /**
   * An operator's main settings (`qts replay --config`): used instead of `config.settings`,
   * keeping its filters_config_dir and components_config_dir (read, never written).
   */
  ini?: { text: string; file: string } | undefined;
  /**
   * How records reach the sensor: `socket` (default) sends them through a ZeroMQ PUSH socket
   * on loopback, as a proxy does; `direct` hands each message to the sensor's ingest step
   * in-process (the same header + body bytes, decoder, pipeline, chain and list manager) and
   * saves the socket hop, which costs more than the chain for long access logs.
   */
  input?: "socket" | "direct" | undefined;
  /**
   * Socket input: run the records the socket has queued as one chain batch (default true, as
   * `qts serve` does), or false, each alone (to show both decide alike).
   */
  batchInput?: boolean | undefined;
}

const decoder = new TextDecoder();
// A one-frame message: the pipeline drops it as bad_frame_count, in order with the records, so
// its drop marks the point where everything sent before it has gone through the chain.
const BARRIER = [new Uint8Array([0x62])];
const BARRIER_REASON = { reason: "bad_frame_count" };

function iniText(settings: Record<string, Record<string, string>>): string {
  return Object.entries(settings)
    .map(([section, keys]) =>
      `[${section}]\n` + Object.entries(keys).map(([k, v]) => `${k} = ${v}\n`).join("")
    )
    .join("");
}

/**
 * A real sensor for replay: started in-process on free loopback ports with event time taken from
 * the records (RecordClock), fed through a ZeroMQ PUSH socket connected to its input, its
 * commands read back through a SUB socket on its outbound PUB. State lives in a temporary
 * directory removed by `close()`.
 */
export class ReplaySession {
  readonly sensor: Sensor;
  /** Commands as received on the SUB socket, parsed, in arrival order. */
  readonly commands: BanCommand[] = [];
  /** Warnings and errors the sensor logged. */
  readonly logs: ReplayLogLine[] = [];
  readonly #dir: string;
  readonly #push: PushSocket;
  readonly #sub: SubSocket;
  readonly #drainTimeoutMs: number;
  #published = 0;
  #barriers = 0;
  #barrierWaiter: (() => void) | undefined;
  #commandWaiter: (() => void) | undefined;
  #subLoop: Promise<void> | undefined;
  #onCommand: ((cmd: BanCommand, json: string) => void) | undefined;
  readonly #direct: boolean;
  /** Header frames by domain id (the direct input sends one per record). */
  readonly #headers = new Map<number, Uint8Array>();
  sent = 0;

  private constructor(
    sensor: Sensor,
    dir: string,
    logs: ReplayLogLine[],
    drainTimeoutMs: number,
    direct: boolean,
  ) {
    this.sensor = sensor;
    this.#direct = direct;
    this.#dir = dir;
    this.logs = logs;
    this.#drainTimeoutMs = drainTimeoutMs;
    this.#push = new PushSocket({ hwm: 10_000 });
    this.#sub = new SubSocket({ hwm: 1_000_000 });
  }

  /** Writes the configuration to a temporary directory and starts the sensor on it. */
  static async start(options: ReplaySessionOptions = {}): Promise<ReplaySession> {
    const dir = await Deno.makeTempDir({ prefix: "qts-replay-" });
    const config = options.config;
    try {
      await Deno.mkdir(join(dir, "filters"));
      await Deno.mkdir(join(dir, "components"));
      for (const [name, text] of Object.entries(config?.files ?? {})) {
        await Deno.writeTextFile(join(dir, "components", name), text);
      }
      for (const [name, value] of Object.entries(config?.components ?? {})) {
        await Deno.writeTextFile(join(dir, "components", `${name}.json`), JSON.stringify(value));
      }
      for (const [id, value] of config?.domains ?? []) {
        await Deno.writeTextFile(join(dir, "filters", `${id}.json`), JSON.stringify(value));
      }
      const settings: Settings = options.ini
        ? loadSettings(options.ini.text, options.ini.file)
        : loadSettings(iniText(config?.settings ?? {}), "fixture config.settings");
      const dirs = options.ini ? {} : {
        filters_config_dir: [join(dir, "filters")],
        components_config_dir: join(dir, "components"),
      };
      // The replay owns where the sensor listens and keeps state; the rest is the fixture's.
      Object.assign(
        settings,
        {
          input: { text: "tcp://127.0.0.1:0", host: "127.0.0.1", port: 0 },
          input_socket: "pull",
          qpc_outbound: { text: "tcp://127.0.0.1:0", host: "127.0.0.1", port: 0 },
          api_server_host: "127.0.0.1",
          api_server_port: 0,
          api_token: "",
          ...dirs,
          state_dir: join(dir, "state"),
          autodiscover: false,
          autoreload_filters: false,
          autoreload_components: false,
          syslog_input: "",
          // Chains on the ingest thread: decisions in record order, and the barrier below
          // passes only after every record before it has been filtered.
          workers: 0,
          telemetry_outbound: "",
          hostname: settings.hostname || "replay",
        } satisfies Partial<Settings>,
      );
      const logs: ReplayLogLine[] = [];
      const ref: { session?: ReplaySession } = {};
      const keep = (level: LogLevel, msg: string, fields: Record<string, unknown> = {}) => {
        if (level === "warn" || level === "error") {
          const line = { level, msg, fields };
          if (logs.length < 1000) logs.push(line);
          options.onLog?.(line);
        }
      };
      const log: Logger = {
        log: keep,
        limited(key, level, msg, fields) {
          if (key === "drop:bad_frame_count") {
            ref.session?.wake();
            return;
          }
          keep(level, msg, fields);
        },
      };
      const sensor = new Sensor({
        settings,
        log,
        clock: new RecordClock(),
        offline: true,
        // Handed over directly, records come faster than the chain decides them: in batches,
        // Lua is entered once per 64 (the same decisions: the test of both inputs shows it).
        ...(options.input === "direct" ? { chainBatch: 64 } : {}),
        ...(options.batchInput === false ? { batchInput: false } : {}),
      });
      const session = new ReplaySession(
        sensor,
        dir,
        logs,
        options.drainTimeoutMs ?? 60_000,
        options.input === "direct",
      );
      ref.session = session;
      session.#onCommand = options.onCommand;
      await session.#start();
      return session;
    } catch (error) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw error;
    }
  }

  async #start(): Promise<void> {
    this.sensor.publisher.onCommand = () => {
      this.#published++;
    };
    await this.sensor.start();
    this.#sub.subscribe("");
    this.#sub.connect(this.sensor.bound.outbound);
    if (!this.#direct) this.#push.connect(this.sensor.bound.input);
    this.#subLoop = (async () => {
      for await (const frames of this.#sub) {
        const json = decoder.decode(frames[0]);
        const cmd = JSON.parse(json) as BanCommand;
        this.commands.push(cmd);
        this.#onCommand?.(cmd, json);
        this.#commandWaiter?.();
      }
    })();
    // PUB drops what it sends before the subscription arrives: wait for it (bounded).
    await this.#until(() => this.sensor.publisher.subscribers >= 1, "the replay subscription");
  }

  /** Called by the sensor's logger when the barrier message is dropped. */
  private wake(): void {
    this.#barrierWaiter?.();
  }

  async #until(done: () => boolean, what: string, wake?: (fn: () => void) => void) {
    const deadline = Date.now() + this.#drainTimeoutMs;
    while (!done()) {
      if (Date.now() > deadline) {
        throw new Error(`replay: timed out after ${this.#drainTimeoutMs} ms waiting for ${what}`);
      }
      const { promise, resolve } = Promise.withResolvers<void>();
      // Woken by the event when there is one, else re-checked after a short while.
      const timer = setTimeout(resolve, wake ? 200 : 5);
      wake?.(resolve);
      await promise;
      clearTimeout(timer);
    }
  }

  /** Sends one record (ZeroMQ: header frame `http:<domain>:`, body frame). */
  send(domain: number, record: HttpRecord): void | Promise<void> {
    return this.sendBody(domain, encodeRecord(record));
  }

  /**
   * Sends one encoded record body (its wire bytes, which the sensor keeps: a caller must not
   * reuse them). A returned promise means: wait before sending the next.
   */
  sendBody(domain: number, body: Uint8Array): void | Promise<void> {
    this.sent++;
    let header = this.#headers.get(domain);
    if (header === undefined) {
      header = encodeHeader(domain);
      this.#headers.set(domain, header);
    }
    if (this.#direct) return this.sensor.ingest([header, body]);
    return this.#push.send([header, body]);
  }

  /**
   * Waits until the sensor has run every record sent so far through its pipeline and every
   * command it published has arrived on the SUB socket. Returns the commands received.
   */
  async drain(): Promise<BanCommand[]> {
    if (!this.#direct) {
      // Everything sent is in the socket's queue or the sensor's: the barrier shows its end.
      const target = ++this.#barriers;
      await this.#push.send(BARRIER);
      const metrics = this.sensor.metrics;
      await this.#until(
        () => metrics.get("qts_input_dropped_total", BARRIER_REASON) >= target,
        "the sensor to process every record",
        (fn) => this.#barrierWaiter = fn,
      );
      this.#barrierWaiter = undefined;
    }
    // Records whose chain waits (limit_req_mc on memcached) may still be deciding.
    await this.sensor.runner.settled();
    await this.#until(
      () => this.commands.length >= this.#published,
      `${this.#published} published commands to arrive on the SUB socket`,
      (fn) => this.#commandWaiter = fn,
    );
    this.#commandWaiter = undefined;
    return this.commands;
  }

  /** Chain runs on the sensor's ingest thread so far, and the records they carried. */
  chainRuns(): { batches: number; records: number } {
    const runner = this.sensor.runner;
    return runner instanceof LocalRunner ? { ...runner.batches } : { batches: 0, records: 0 };
  }

  /** Stops the sensor and the sockets and removes the temporary state. */
  async close(): Promise<void> {
    await this.#push.close();
    await this.sensor.close();
    await this.#sub.close();
    await this.#subLoop?.catch(() => {});
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}
