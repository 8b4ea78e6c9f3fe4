import { type BanCommand, formatCommand } from "../lm/command.ts";
import type { Metrics } from "../../shared/metrics/metrics.ts";
import { type CurveOptions, PubSocket } from "../zmtp/mod.ts";

const encoder = new TextEncoder();

/**
 * The outbound side (SPEC §6): a bound ZeroMQ PUB socket, one JSON command per single-frame
 * message. Publishing never blocks ingest: a slow bouncer loses messages at its high-water mark
 * (counted in `qts_outbound_dropped_total`), one that is not connected loses all; `qts bouncer`
 * repairs both by resyncing from GET /bans after every reconnect and periodically (`--resync`).
 */
export class CommandPublisher {
  readonly #socket: PubSocket;
  readonly #metrics: Metrics | undefined;
  /** Every command published, for tests and the replay harness. */
  onCommand?: (cmd: BanCommand, json: string) => void;

  /** `curve`: serve commands only to the subscribers whose keys it authorises. */
  constructor(metrics?: Metrics, curve?: CurveOptions) {
    this.#socket = new PubSocket({ hwm: 100_000, ...(curve ? { curve } : {}) });
    this.#metrics = metrics;
    metrics?.collect(() => {
      metrics.counter(
        "qts_outbound_dropped_total",
        "Commands a subscriber missed at its high-water mark (its bouncer's resync repairs them)",
      ).value = this.#socket.stats.droppedHwm;
    });
  }

  /** Binds the PUB socket; returns the bound endpoint (with the real port for `:0`). */
  bind(endpoint: string): Promise<string> {
    return this.#socket.bind(endpoint);
  }

  /** Publishes one command. */
  publish(cmd: BanCommand): void {
    const json = formatCommand(cmd);
    this.#socket.send([encoder.encode(json)]);
    this.#metrics?.inc("qts_commands_total", "Ban commands published", {
      method: cmd.method,
      rule_name: cmd.rule_name,
    });
    this.onCommand?.(cmd, json);
  }

  /** Subscribers connected now. */
  get subscribers(): number {
    return this.#socket.subscribers;
  }

  close(): Promise<void> {
    return this.#socket.close();
  }
}
