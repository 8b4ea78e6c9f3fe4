/**
 * A real libzmq peer for tests and benchmarks: spawns `/usr/bin/python3 pyzmq_peer.py` (Debian's
 * python3-zmq) and drives it line by line over stdin/stdout. Every wait is bounded.
 * @module
 */

/** Debian's Python, which has pyzmq (the pyenv one first on PATH does not). */
export const PYZMQ_PYTHON = "/usr/bin/python3";

const SCRIPT = new URL("./pyzmq_peer.py", import.meta.url).pathname;

/** libzmq socket types the peer can play. */
export type PyzmqSocketType = "PUSH" | "PULL" | "PUB" | "SUB" | "XPUB" | "XSUB";

/** How to start a peer. */
export interface PyzmqPeerOptions {
  type: PyzmqSocketType;
  mode: "bind" | "connect";
  endpoint: string;
  /** libzmq options: sndhwm, rcvhwm, linger (ms; 2000 for PUSH/PUB, else 0), heartbeat (ms), ipv6 (0/1). */
  socketOptions?: Record<string, number>;
  /** Bound on each wait for a reply line, ms. Default 20000. */
  timeout?: number;
  /**
   * CURVE (Z85 keys): `server: true` makes it a CURVE server (ZMQ_CURVE_SERVER, no ZAP: any
   * client key is accepted); otherwise `serverKey` makes it a client of that server.
   */
  curve?: { secretKey: string; publicKey: string; server?: boolean; serverKey?: string };
}

/** A CURVE key pair made by libzmq itself (`zmq.curve_keypair()`), Z85-encoded. */
export async function libzmqKeyPair(): Promise<{ publicKey: string; secretKey: string }> {
  const out = await new Deno.Command(PYZMQ_PYTHON, {
    args: ["-c", "import zmq; p, s = zmq.curve_keypair(); print(p.decode()); print(s.decode())"],
    stdout: "piped",
  }).output();
  const [publicKey, secretKey] = new TextDecoder().decode(out.stdout).trim().split("\n");
  if (!out.success || publicKey?.length !== 40 || secretKey?.length !== 40) {
    throw new Error("zmq.curve_keypair() failed");
  }
  return { publicKey, secretKey };
}

/** Result of {@linkcode PyzmqPeer.receiveSequence}. */
export interface SequenceResult {
  count: number;
  inOrder: boolean;
  /** From the first message to the last, as measured by the peer. */
  seconds: number;
  bytes: number;
}

/** A running libzmq peer. */
export interface PyzmqPeer {
  /** The endpoint the peer bound or connected to (with the real port after binding :0). */
  readonly endpoint: string;
  /** Sends one multipart message. */
  send(frames: Uint8Array[]): Promise<void>;
  /** Sends many messages in order, pipelined (one write, then one reply per message). */
  sendMany(messages: Uint8Array[][]): Promise<void>;
  /** Sends `count` messages `[first, u32 BE sequence number + zero padding to size]`. */
  generate(count: number, first: Uint8Array, size: number): Promise<void>;
  /** Receives `count` messages; throws on timeout (stating how many arrived). */
  receive(count: number, timeoutMs?: number): Promise<Uint8Array[][]>;
  /** Receives `count` generated messages without echoing them; checks their order. */
  receiveSequence(count: number, timeoutMs?: number): Promise<SequenceResult>;
  /** Receives `count` messages doing nothing but summing frame sizes (benchmark baseline). */
  receiveCount(count: number, timeoutMs?: number): Promise<SequenceResult>;
  subscribe(prefix: Uint8Array): Promise<void>;
  unsubscribe(prefix: Uint8Array): Promise<void>;
  /** PUB/XPUB: sends `frames` every 10 ms until {@linkcode stopProbe} (slow-joiner sync). */
  probe(frames: Uint8Array[]): Promise<void>;
  stopProbe(): Promise<void>;
  /** Closes the socket (its linger applies) and waits for the process to exit. */
  close(): Promise<void>;
  /** SIGKILLs the process (an abrupt peer crash) and waits for it to exit. */
  kill(): Promise<void>;
}

function hex(frame: Uint8Array): string {
  if (frame.length === 0) return "-";
  let s = "";
  for (const byte of frame) s += byte.toString(16).padStart(2, "0");
  return s;
}

function unhex(text: string): Uint8Array {
  if (text === "-") return new Uint8Array(0);
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * Starts a libzmq peer and waits until it has bound or connected.
 * @example
 * ```ts
 * const peer = await pyzmqPeer({ type: "PUSH", mode: "connect", endpoint: "tcp://127.0.0.1:4100" });
 * await peer.send([new TextEncoder().encode("hello")]);
 * await peer.close();
 * ```
 */
export async function pyzmqPeer(options: PyzmqPeerOptions): Promise<PyzmqPeer> {
  const timeout = options.timeout ?? 20_000;
  const args = [SCRIPT, options.type, options.mode, options.endpoint];
  for (const [name, value] of Object.entries(options.socketOptions ?? {})) {
    args.push(`${name}=${value}`);
  }
  if (options.curve !== undefined) {
    const { secretKey, publicKey, server, serverKey } = options.curve;
    args.push(`curve_secretkey=${secretKey}`, `curve_publickey=${publicKey}`);
    if (server) args.push("curve_server=1");
    else if (serverKey !== undefined) args.push(`curve_serverkey=${serverKey}`);
  }
  const child = new Deno.Command(PYZMQ_PYTHON, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const lines: string[] = [];
  let waiter: (() => void) | undefined;
  let ended = false;
  const reading = (async () => {
    let rest = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      let nl: number;
      while ((nl = rest.indexOf("\n")) >= 0) {
        lines.push(rest.slice(0, nl));
        rest = rest.slice(nl + 1);
      }
      waiter?.();
    }
    ended = true;
    waiter?.();
  })();

  async function line(what: string, ms = timeout): Promise<string> {
    const deadline = Date.now() + ms;
    while (lines.length === 0) {
      if (ended) throw new Error(`pyzmq peer exited while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`pyzmq peer: no ${what} within ${ms} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        waiter = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      waiter = undefined;
    }
    return lines.shift()!;
  }

  const encoder = new TextEncoder();
  async function command(text: string, what: string, ms = timeout): Promise<string> {
    await writer.write(encoder.encode(text + "\n"));
    const reply = await line(what, ms);
    if (!reply.startsWith("OK")) throw new Error(`pyzmq peer: ${what} failed: ${reply}`);
    return reply;
  }

  async function quiet(cmd: string, count: number, timeoutMs: number): Promise<SequenceResult> {
    await writer.write(encoder.encode(`${cmd} ${count} ${timeoutMs}\n`));
    const reply = await line(cmd, timeoutMs + timeout * 2);
    const words = reply.split(" ");
    if (words[0] !== "OK") throw new Error(`pyzmq peer: ${cmd} of ${count}: ${reply}`);
    return {
      count: Number(words[1]),
      inOrder: words[2] === "1",
      seconds: Number(words[3]),
      bytes: Number(words[4]),
    };
  }

  let exited = false;
  async function finish(): Promise<void> {
    if (exited) return;
    exited = true;
    try {
      await writer.close();
    } catch {
      // The process is already gone.
    }
    await reading;
    await child.status;
  }

  let endpoint: string;
  try {
    const ready = await line("READY");
    if (!ready.startsWith("READY ")) throw new Error(`pyzmq peer did not start: ${ready}`);
    endpoint = ready.slice(6);
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await finish();
    throw error;
  }

  return {
    endpoint,
    async send(frames) {
      await command(`send ${frames.map(hex).join(" ")}`, "send");
    },
    async sendMany(messages) {
      if (messages.length === 0) return;
      const text = messages.map((frames) => `send ${frames.map(hex).join(" ")}\n`).join("");
      await writer.write(encoder.encode(text));
      for (let i = 0; i < messages.length; i++) {
        const reply = await line(`send ${i + 1} of ${messages.length}`);
        if (reply !== "OK") throw new Error(`pyzmq peer: send ${i + 1} failed: ${reply}`);
      }
    },
    async generate(count, first, size) {
      await command(`gen ${count} ${hex(first)} ${size}`, "gen", Math.max(timeout, count));
    },
    async receive(count, timeoutMs = timeout) {
      await writer.write(encoder.encode(`recv ${count} ${timeoutMs}\n`));
      const messages: Uint8Array[][] = [];
      for (;;) {
        const reply = await line("recv", timeoutMs + timeout);
        if (reply.startsWith("MSG ")) messages.push(reply.slice(4).split(" ").map(unhex));
        else if (reply === "OK") return messages;
        else throw new Error(`pyzmq peer: recv got ${messages.length} of ${count}: ${reply}`);
      }
    },
    receiveSequence(count, timeoutMs = timeout) {
      return quiet("recvseq", count, timeoutMs);
    },
    receiveCount(count, timeoutMs = timeout) {
      return quiet("recvcount", count, timeoutMs);
    },
    async subscribe(prefix) {
      await command(`subscribe ${hex(prefix)}`, "subscribe");
    },
    async unsubscribe(prefix) {
      await command(`unsubscribe ${hex(prefix)}`, "unsubscribe");
    },
    async probe(frames) {
      await command(`probe ${frames.map(hex).join(" ")}`, "probe");
    },
    async stopProbe() {
      await command("stop", "stop");
    },
    async close() {
      if (exited) return;
      try {
        await writer.write(encoder.encode("close\n"));
      } catch {
        // Gone already; finish() still reaps it.
      }
      await finish();
    },
    async kill() {
      if (exited) return;
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await finish();
    },
  };
}
