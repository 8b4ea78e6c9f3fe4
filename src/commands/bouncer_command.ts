import { Bouncer } from "../sensor/bouncer/bouncer.ts";
import { NftSet, parseNftTarget } from "../sensor/bouncer/nft_set.ts";
import { serveMetrics } from "../sensor/bouncer/serve_metrics.ts";
import { createLogger } from "../shared/log/logger.ts";
import { parseCommandLine } from "./parse_command_line.ts";
import { waitForStopSignal } from "./_wait_for_stop_signal.ts";

const HELP = `Usage: qts bouncer [--from tcp://127.0.0.1:4101] [--api http://127.0.0.1:4180]
                   [--nft inet/qts/qts_bans] [--rule <rule_name>]… [--netns <name>]
                   [--resync <seconds>] [--metrics <host:port>]

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
  const log = createLogger();
  const nft = new NftSet(target, {
    command: values.netns !== undefined ? ["ip", "netns", "exec", values.netns, "nft"] : ["nft"],
    chain: !values["no-chain"],
  });
  const bouncer = new Bouncer(nft, {
    from: values.from,
    api: values.api,
    token: values.token ?? Deno.env.get("QTS_API_TOKEN"),
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
  });
  const signal = await waitForStopSignal();
  log.log("info", "stopping", { signal, ...bouncer.stats });
  await bouncer.close();
  await server?.shutdown();
  return 0;
}
