import { Bouncer } from "../sensor/bouncer/bouncer.ts";
import { NftSet, parseNftTarget } from "../sensor/bouncer/nft_set.ts";
import { createLogger } from "../shared/log/logger.ts";
import { parseCommandLine } from "./parse_command_line.ts";
import { waitForStopSignal } from "./_wait_for_stop_signal.ts";

const HELP = `Usage: qts bouncer [--from tcp://127.0.0.1:4101] [--api http://127.0.0.1:4180]
                   [--nft inet/qts/qts_bans] [--rule <rule_name>]… [--netns <name>]

Applies the sensor's ban commands to nftables: "add" puts the IP into the set with the command's
timeout (the kernel expires it), "del" removes it. IPv4 addresses go to the set <set>, IPv6 to
<set>6; both are created with "flags timeout" when missing, with a chain qts_input that drops
traffic from them (--no-chain to leave filtering to your own rules). After every (re)connect
to the sensor the sets are resynced from GET /bans, since commands published while the bouncer
was away are lost. Needs root (CAP_NET_ADMIN) and --allow-run=nft (and ip with --netns).

  -f, --from <endpoint>  the sensor's outbound PUB ([tsng:qpc] outbound)
  -a, --api <url>        the sensor's REST API for resync; "" to never resync
  --token <token>        API bearer token (default: $QTS_API_TOKEN)
  -n, --nft <f/t/s>      family/table/set (default inet/qts/qts_bans)
  -r, --rule <name>      apply only commands of this rule_name; repeatable (default: all)
  --netns <name>         run nft inside a network namespace (ip netns exec <name> nft)
  --no-chain             do not create the drop chain
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
    log: (level, msg, fields) => log.log(level, msg, fields),
  });
  try {
    await bouncer.start();
  } catch (error) {
    log.log("error", "cannot start", { error: (error as Error).message });
    await bouncer.close().catch(() => {});
    return 1;
  }
  log.log("info", "qts bouncer running", { from: values.from, nft: values.nft, api: values.api });
  const signal = await waitForStopSignal();
  log.log("info", "stopping", { signal, ...bouncer.stats });
  await bouncer.close();
  return 0;
}
