import { type BanCommand, formatCommand } from "../lm/command.ts";
import type { Metrics } from "../../shared/metrics/metrics.ts";
import { PubSocket } from "../zmtp/mod.ts";

const encoder = new TextEncoder();

/**
 * The outbound side (SPEC §6): a bound ZeroMQ PUB socket, one JSON command per single-frame
 * message. Publishing never blocks ingest: a slow bouncer loses messages at its high-water mark
 * (counted by the socket), which the bouncer repairs by resyncing from GET /bans.
 */
export class CommandPublisher {
  readonly #socket: PubSocket;
  readonly #metrics: Metrics | undefined;
  /** Every command published, for tests and the replay harness. */
  onCommand?: (cmd: BanCommand, json: string) => void;

  constructor(metrics?: Metrics) {
    this.#socket = new PubSocket({ hwm: 100_000 });
    this.#metrics = metrics;
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
