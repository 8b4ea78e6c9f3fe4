/**
 * Helpers of the bouncer tests: a network namespace for real nft, a stand-in for the sensor's
 * `GET /bans`, commands as the sensor formats them, an in-memory nft, and a waiter that wakes
 * on the bouncer's own events.
 * @module
 */
import type { Bouncer, BouncerNft } from "../../../src/sensor/bouncer/bouncer.ts";
import type { NftOp } from "../../../src/sensor/bouncer/nft_set.ts";
import { type BanCommand, formatCommand } from "../../../src/sensor/lm/command.ts";
import type { PubSocket } from "../../../src/sensor/zmtp/mod.ts";

/** Why the nftables tests cannot run here, or undefined when they can. */
export function nftUnavailable(): string | undefined {
  if (Deno.build.os !== "linux") return "nftables is Linux only";
  if (Deno.uid() !== 0) return "needs root for ip netns and nft";
  for (const tool of ["ip", "nft"]) {
    try {
      const out = new Deno.Command(tool, { args: ["--version"], stdout: "null", stderr: "null" })
        .outputSync();
      if (!out.success && tool === "nft") return "nft --version failed";
    } catch {
      return `${tool} is not installed (apt-get install ${
        tool === "ip" ? "iproute2" : "nftables"
      })`;
    }
  }
  const probe = `qts-probe-${Deno.pid}`;
  const add = new Deno.Command("ip", { args: ["netns", "add", probe], stderr: "piped" })
    .outputSync();
  if (!add.success) {
    return `ip netns add failed: ${new TextDecoder().decode(add.stderr).trim()}`;
  }
  new Deno.Command("ip", { args: ["netns", "del", probe] }).outputSync();
  return undefined;
}

/** A fresh network namespace: `nft` is the command that runs nft inside it. */
export function netns(prefix: string): { nft: string[]; [Symbol.dispose](): void } {
  const name = `${prefix}-${Deno.pid}`;
  const ip = (...args: string[]) => new Deno.Command("ip", { args }).outputSync();
  if (!ip("netns", "add", name).success) throw new Error(`ip netns add ${name} failed`);
  return {
    nft: ["ip", "netns", "exec", name, "nft"],
    [Symbol.dispose]: () => void ip("netns", "del", name),
  };
}

/** Options of {@linkcode command}. */
export interface CommandOptions {
  rule?: string;
  timeout?: number;
  domain?: number;
}

/** A command as the sensor sends it; rule tsng.fixed_lists, domain 8984 unless stated. */
export function command(method: "add" | "del", ip: string, o: CommandOptions = {}): BanCommand {
  return {
    domain_id: o.domain ?? 8984,
    comment: "fixed_bad",
    rule_name: o.rule ?? "tsng.fixed_lists",
    method,
    ip_addr: ip,
    geo: "",
    timestamp: Date.now() / 1000,
    ...(method === "add" ? { timeout: o.timeout ?? 3600 } : {}),
    worker: "wrk_1",
    broadcast: false,
    hoplite: "test",
  };
}

/** Publishes commands on a PUB socket, in one synchronous burst; returns how many got out. */
export function publish(pub: PubSocket, ...commands: BanCommand[]): number {
  let sent = 0;
  for (const cmd of commands) sent += pub.send([new TextEncoder().encode(formatCommand(cmd))]);
  return sent;
}

/** One ban of the stand-in `GET /bans`, as the sensor lists it. */
export interface ApiBan {
  domain_id: number;
  ip: string;
  rule_name: string;
  expires_at: number;
}

/** A stand-in for the sensor's API: `GET /bans` answers `bans` as they are at the request. */
export function fakeApi(port = 0): {
  url: string;
  bans: ApiBan[];
  requests: number;
  shutdown(): Promise<void>;
} {
  const api = {
    url: "",
    bans: [] as ApiBan[],
    requests: 0,
    shutdown: () => server.shutdown(),
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, (request) => {
    api.requests++;
    if (new URL(request.url).pathname !== "/bans") return new Response("no", { status: 404 });
    return Response.json({
      status: "success",
      data: api.bans.map((b) => ({ ...b, comment: "x", added_at: 0, projection: "p" })),
    });
  });
  api.url = `http://127.0.0.1:${server.addr.port}`;
  return api;
}

/**
 * nft in memory, for bouncer tests that need no root: elements with their expiry, expired ones
 * gone at the next look, as the kernel does.
 */
export class MemoryNft implements BouncerNft {
  readonly stats = { runs: 0, failures: 0, added: 0, deleted: 0 };
  readonly #expires = new Map<string, number>();

  setup(): Promise<void> {
    return Promise.resolve();
  }

  apply(ops: readonly NftOp[]): Promise<number> {
    this.stats.runs++;
    for (const op of ops) {
      if (op.op === "add") {
        this.#expires.set(op.ip, Date.now() + Math.max(1, Math.ceil(op.timeout)) * 1000);
        this.stats.added++;
      } else {
        this.#expires.delete(op.ip);
        this.stats.deleted++;
      }
    }
    return Promise.resolve(0);
  }

  members(): Promise<Map<string, number | undefined>> {
    const out = new Map<string, number | undefined>();
    for (const [ip, at] of this.#expires) {
      if (at <= Date.now()) this.#expires.delete(ip);
      else out.set(ip, Math.floor((at - Date.now()) / 1000));
    }
    return Promise.resolve(out);
  }
}

/**
 * Waits for conditions on a bouncer, re-checking after each batch or resync it applies and
 * each line it logs (a failed resync only logs), so tests await the bouncer's own events.
 * Conditions on the kernel or a socket, which have no event, are also re-checked every
 * `pollMs`.
 */
export class BouncerWaiter {
  readonly logs: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  #wake: (() => void) | undefined;

  /** The `log` option to give the bouncer. */
  readonly log = (level: string, msg: string, fields: Record<string, unknown> = {}): void => {
    this.logs.push({ level, msg, fields });
    this.#wake?.();
  };

  /** Hooks `bouncer.onApplied`. */
  watch(bouncer: Bouncer): void {
    bouncer.onApplied = () => this.#wake?.();
  }

  async until(
    what: string,
    done: () => boolean | Promise<boolean>,
    { timeoutMs = 15_000, pollMs = 100 } = {},
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await done())) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#wake = resolve;
      const timer = setTimeout(resolve, Math.min(left, pollMs));
      await promise;
      clearTimeout(timer);
    }
  }
}
