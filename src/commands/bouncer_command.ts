import { Bouncer, type BouncerCurve } from "../sensor/bouncer/bouncer.ts";
import { NftSet, parseNftTarget } from "../sensor/bouncer/nft_set.ts";
import { serveMetrics } from "../sensor/bouncer/serve_metrics.ts";
import { curvePublicKey, decodeZ85 } from "../sensor/zmtp/mod.ts";
import { createLogger } from "../shared/log/logger.ts";
import { parseCommandLine } from "./parse_command_line.ts";
import { waitForStopSignal } from "./_wait_for_stop_signal.ts";

const HELP = `Usage: qts bouncer [--from tcp://127.0.0.1:4101] [--api http://127.0.0.1:4180]
                   [--nft inet/qts/qts_bans] [--rule <rule_name>]… [--netns <name>]
                   [--resync <seconds>] [--metrics <host:port>]
                   [--curve-secret-key-file <file> --curve-server-key[-file] <key|file>]

Applies the sensor's ban commands to nftables. It keeps one ban per (domain_id, rule_name, IP)
with its expiry; the IP's element is in the set while any of its bans is active and expires with
the latest one, so a "del" of one rule, or a shorter ban of another, does not unblock an IP that
a longer ban still holds. IPv4 addresses go to the set <set>, IPv6 to <set>6, networks (an IPv6
client's /64) to <set>net and <set>6net; all are created when missing, with a chain qts_input that
drops traffic from them (--no-chain to leave filtering to your own rules).

Commands lost on the way (published while the bouncer was away, or dropped at the sensor's
high-water mark) are repaired by a resync from GET /bans: at start (retried until the API
answers), after every reconnect, every --resync seconds, and with backoff (1 s doubling up to
30 s) after a failure. What a resync corrected is counted in /metrics (--metrics).
Needs root (CAP_NET_ADMIN) and --allow-run=nft (and ip with --netns).

A sensor whose outbound PUB has [tsng:qpc] curve_secret_key_file speaks CurveZMQ and accepts only
the public keys in its curve_authorized_keys_file: give this bouncer its own secret key and the
sensor's outbound public key. The bouncer's public key is derived from its secret key and logged
at start ("curve_public_key"), for that file.

  -f, --from <endpoint>  the sensor's outbound PUB ([tsng:qpc] outbound)
  -a, --api <url>        the sensor's REST API for resync; "" to never resync
  --token <token>        API bearer token (default: $QTS_API_TOKEN)
  -n, --nft <f/t/s>      family/table/set (default inet/qts/qts_bans)
  -r, --rule <name>      apply only commands of this rule_name; repeatable (default: all)
  --netns <name>         run nft inside a network namespace (ip netns exec <name> nft)
  --no-chain             do not create the drop chain
  --resync <seconds>     resync this often besides reconnects (default 60; 0 = only at start
                         and after reconnects)
  --metrics <host:port>  serve Prometheus counters on http://<host:port>/metrics, e.g.
                         127.0.0.1:9101 (default: off): qts_bouncer_resync_corrections_total
                         {change=added|removed|retimed}, qts_bouncer_resyncs_total{result}, …
  --curve-secret-key-file <file>
                         this bouncer's CURVE secret key: one Z85 line (40 characters), as
                         zmq.curve_keypair() makes it; keep it 0600
  --curve-server-key <key>
                         the sensor's outbound CURVE public key (Z85, 40 characters;
                         write --curve-server-key=<key> when it starts with "-")
  --curve-server-key-file <file>
                         the same, read from a file; one of the two is required with
                         --curve-secret-key-file, and neither without it
  -h, --help             this text
`;

/** `qts bouncer`: sensor commands → nftables sets, until SIGINT/SIGTERM. */
export async function bouncerCommand(args: string[]): Promise<number> {
  const parsed = parseCommandLine("bouncer", HELP, args, {
    from: { type: "string", short: "f", default: "tcp://127.0.0.1:4101" },
    api: { type: "string", short: "a", default: "http://127.0.0.1:4180" },
    token: { type: "string" },
    nft: { type: "string", short: "n", default: "inet/qts/qts_bans" },
    rule: { type: "string", short: "r", multiple: true },
    netns: { type: "string" },
    "no-chain": { type: "boolean" },
    resync: { type: "string", default: "60" },
    metrics: { type: "string" },
    "curve-secret-key-file": { type: "string" },
    "curve-server-key": { type: "string" },
    "curve-server-key-file": { type: "string" },
  });
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  let target;
  try {
    target = parseNftTarget(values.nft);
  } catch (error) {
    console.error(`qts bouncer: ${(error as Error).message}`);
    return 2;
  }
  if (!/^tcp:\/\/\S+:\d+$/.test(values.from)) {
    console.error(`qts bouncer: --from "${values.from}" is not a tcp://host:port endpoint`);
    return 2;
  }
  if (values.netns !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(values.netns)) {
    console.error(`qts bouncer: --netns "${values.netns}" is not a namespace name`);
    return 2;
  }
  const resync = Number(values.resync);
  if (values.resync.trim() === "" || !Number.isFinite(resync) || resync < 0) {
    console.error(`qts bouncer: --resync "${values.resync}" is not a number of seconds (≥ 0)`);
    return 2;
  }
  let listen: { hostname: string; port: number } | undefined;
  if (values.metrics !== undefined) {
    const match = /^(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):(\d{1,5})$/.exec(values.metrics);
    if (!match || Number(match[2]) > 65535) {
      console.error(`qts bouncer: --metrics "${values.metrics}" is not host:port`);
      return 2;
    }
    listen = { hostname: match[1]!.replace(/^\[|\]$/g, ""), port: Number(match[2]) };
  }
  let curve: BouncerCurve | undefined;
  try {
    curve = await readCurve(values);
  } catch (error) {
    console.error(`qts bouncer: ${(error as Error).message}`);
    return 2;
  }
  const log = createLogger();
  const nft = new NftSet(target, {
    command: values.netns !== undefined ? ["ip", "netns", "exec", values.netns, "nft"] : ["nft"],
    chain: !values["no-chain"],
  });
  const bouncer = new Bouncer(nft, {
    from: values.from,
    api: values.api,
    token: values.token ?? Deno.env.get("QTS_API_TOKEN"),
    curve,
    rules: values.rule ?? [],
    resyncMs: resync * 1000,
    log: (level, msg, fields) => log.log(level, msg, fields),
  });
  let server: Deno.HttpServer | undefined;
  try {
    if (listen) server = await serveMetrics(bouncer.metrics, listen);
    await bouncer.start();
  } catch (error) {
    log.log("error", "cannot start", { error: (error as Error).message });
    await bouncer.close().catch(() => {});
    await server?.shutdown();
    return 1;
  }
  log.log("info", "qts bouncer running", {
    from: values.from,
    nft: values.nft,
    api: values.api,
    resync_s: resync,
    metrics: values.metrics ?? "",
    curve_public_key: curve ? curvePublicKey(curve.secretKey) : "",
  });
  const signal = await waitForStopSignal();
  log.log("info", "stopping", { signal, ...bouncer.stats });
  await bouncer.close();
  await server?.shutdown();
  return 0;
}

/**
 * The CURVE client keys from `--curve-secret-key-file` and `--curve-server-key[-file]`, or
 * undefined without them. Throws with a message naming the option for a missing partner, an
 * unreadable file, or text that is not a Z85 key of 32 bytes.
 */
async function readCurve(values: {
  "curve-secret-key-file"?: string | undefined;
  "curve-server-key"?: string | undefined;
  "curve-server-key-file"?: string | undefined;
}): Promise<BouncerCurve | undefined> {
  const secretFile = values["curve-secret-key-file"];
  const serverText = values["curve-server-key"];
  const serverFile = values["curve-server-key-file"];
  if (serverText !== undefined && serverFile !== undefined) {
    throw new TypeError("give --curve-server-key or --curve-server-key-file, not both");
  }
  const server = serverText !== undefined
    ? "--curve-server-key"
    : serverFile !== undefined
    ? "--curve-server-key-file"
    : undefined;
  if (secretFile === undefined && server === undefined) return undefined;
  if (secretFile === undefined) {
    throw new TypeError(
      `${server} needs --curve-secret-key-file (this bouncer's own CURVE secret key)`,
    );
  }
  if (server === undefined) {
    throw new TypeError(
      "--curve-secret-key-file needs --curve-server-key or --curve-server-key-file " +
        "(the sensor's outbound CURVE public key)",
    );
  }
  const secretKey = await readKeyFile(secretFile, "--curve-secret-key-file");
  try {
    curvePublicKey(secretKey);
  } catch {
    throw new TypeError(
      `--curve-secret-key-file "${secretFile}" does not hold a CURVE secret key: ` +
        "expected one line of 40 Z85 characters",
    );
  }
  const serverKey = serverFile !== undefined
    ? await readKeyFile(serverFile, "--curve-server-key-file")
    : serverText!.trim();
  const where = serverFile !== undefined ? `--curve-server-key-file "${serverFile}"` : server;
  let bytes = 0;
  try {
    bytes = serverKey.length === 40 ? decodeZ85(serverKey).length : 0;
  } catch {
    // Reported below.
  }
  if (bytes !== 32) {
    throw new TypeError(
      `${where} is not a CURVE public key: expected 40 Z85 characters (32 bytes)`,
    );
  }
  if (serverKey === curvePublicKey(secretKey)) {
    throw new TypeError(
      `${where} is this bouncer's own public key; give the sensor's outbound public key`,
    );
  }
  return { secretKey, serverKey };
}

/** A key file's one key: its text without surrounding whitespace. */
async function readKeyFile(path: string, option: string): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (error) {
    throw new Error(`cannot read ${option} "${path}": ${(error as Error).message}`, {
      cause: error,
    });
  }
}
