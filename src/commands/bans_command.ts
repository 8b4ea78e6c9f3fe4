import type { Ban, BanDetail, BanHistoryEntry } from "../sensor/lm/mod.ts";
import {
  API_HELP,
  API_OPTIONS,
  ApiCallError,
  type ApiClient,
  clientFromOptions,
  type CommandIo,
  processIo,
} from "./_api_client.ts";
import { duration, isoTime, plural, printable, relativeTime, table } from "./_table.ts";
import { parseCommandLine } from "./parse_command_line.ts";

const HELP = `Usage: qts bans [list] [--domain <id>] [options]
       qts bans show <ip> [--domain <id>] [options]
       qts bans del <ip> [--domain <id>] [options]

The active bans of a running sensor, over its REST API.

  list       every active ban (GET /bans, or GET /bans/<id> with --domain): domain, IP,
             projection, rule, why, when it expires
  show <ip>  the IP's active bans with their evidence (the projection and its mode, the
             threshold reached, the events counted, the sample requests) and its ban history
             (GET /ips/<ip>, or GET /bans/<id>/<ip> with --domain)
  del <ip>   lift the IP's bans (DELETE /bans/<id>/<ip>): in the --domain given, else in
             every domain that bans it; "del" goes out for each

  -d, --domain <id>      one domain (default: all)
${API_HELP}
  -h, --help             this text

An IPv6 client banned as its network (2001:db8:a:b::/64) is found by any address in it, or by
the network as "list" prints it. Exit 0 on success, 1 when the API cannot be reached or refuses
(one line on stderr), 2 on a usage error.
`;

/** An active ban as `GET /bans` lists it. */
type ListedBan = Ban & { domain_id: number };

/** What made a ban: projection, mode, threshold, events, sample requests. */
type BanEvidence = NonNullable<BanDetail["evidence"]>;

/** What `GET /ips/<ip>` and `GET /bans/<domain>/<ip>` answer. */
interface Explanation {
  ip: string;
  bans: BanDetail[];
  history: BanHistoryEntry[];
}

/**
 * `qts bans [list|show IP|del IP]`: a running sensor's active bans, why an IP was banned, and
 * manual unbans, as tables for people or the API's JSON (`--json`) for scripts.
 */
export async function bansCommand(
  args: string[],
  io: CommandIo = processIo(),
): Promise<number> {
  const parsed = parseCommandLine("bans", HELP, args, {
    ...API_OPTIONS,
    domain: { type: "string", short: "d" },
  }, { positionals: true });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const usage = (problem: string) => {
    io.err(`qts bans: ${problem}\n\n${HELP}`);
    return 2;
  };
  const [action = "list", ip, ...rest] = positionals;
  if (!["list", "show", "del"].includes(action)) {
    return usage(`unknown action "${action}" (list, show or del)`);
  }
  if (action === "list" && ip !== undefined) return usage(`"list" takes no IP ("${ip}")`);
  if (action !== "list" && ip === undefined) return usage(`"${action}" needs an IP`);
  if (rest.length > 0) return usage(`unexpected argument "${rest[0]}"`);
  if (values.domain !== undefined && !/^\d{1,10}$/.test(values.domain)) {
    return usage(`--domain "${values.domain}" is not a domain id (a decimal integer)`);
  }
  const domain = values.domain === undefined ? undefined : Number(values.domain);
  const made = await clientFromOptions(values, io);
  if ("problem" in made) return usage(made.problem);
  const client = made.client;
  const json = values.json === true;
  // A network as `list` prints it (2001:db8:a:b::/64) is found by its first address.
  const address = ip?.replace(/\/\d{1,3}$/, "");
  try {
    if (action === "list") return await list(client, io, domain, json);
    if (action === "show") return await show(client, io, address!, domain, json);
    return await del(client, io, address!, domain, json);
  } catch (error) {
    if (!(error instanceof ApiCallError)) throw error;
    io.err(`qts bans: ${printable(error.message)}`);
    return 1;
  }
}

async function list(
  client: ApiClient,
  io: CommandIo,
  domain: number | undefined,
  json: boolean,
): Promise<number> {
  const path = domain === undefined ? "/bans" : `/bans/${domain}`;
  const data = await client.data<(Ban & { domain_id?: number })[]>("GET", path);
  if (json) {
    io.out(JSON.stringify(data, null, 2));
    return 0;
  }
  const bans: ListedBan[] = data.map((b) => ({ ...b, domain_id: b.domain_id ?? domain ?? 0 }));
  if (bans.length === 0) {
    io.out(domain === undefined ? "no active bans" : `no active bans in domain ${domain}`);
    return 0;
  }
  const now = io.now();
  const rows = bans.map((b) => [
    String(b.domain_id),
    b.ip,
    b.simulated ? `${b.projection} (simulated)` : b.projection,
    b.rule_name,
    b.reason || "-",
    String(b.events),
    isoTime(b.added_at),
    relativeTime(b.expires_at, now),
    b.comment,
  ]);
  io.out(
    table(rows, {
      header: [
        "DOMAIN",
        "IP",
        "PROJECTION",
        "RULE",
        "REASON",
        "EVENTS",
        "ADDED",
        "EXPIRES",
        "COMMENT",
      ],
      right: [5],
      width: io.columns,
    }).join("\n"),
  );
  const domains = new Set(bans.map((b) => b.domain_id)).size;
  const simulated = bans.filter((b) => b.simulated).length;
  io.out(
    `\n${plural(bans.length, "active ban")} in ${plural(domains, "domain")}` +
      (simulated > 0 ? ` (${simulated} simulated: would-be bans, never published)` : ""),
  );
  return 0;
}

async function show(
  client: ApiClient,
  io: CommandIo,
  ip: string,
  domain: number | undefined,
  json: boolean,
): Promise<number> {
  const path = domain === undefined
    ? `/ips/${encodeURIComponent(ip)}`
    : `/bans/${domain}/${encodeURIComponent(ip)}`;
  const data = await client.data<Explanation>("GET", path);
  if (json) {
    io.out(JSON.stringify(data, null, 2));
    return 0;
  }
  io.out(formatExplanation(data, { now: io.now(), width: io.columns }));
  return 0;
}

/** Options of {@linkcode formatExplanation}. */
export interface FormatExplanationOptions {
  /** Wall-clock time for "in 42 min". */
  now: number;
  /** Widest line; sample requests and history are cut to it. */
  width: number;
}

/**
 * An IP's bans and history (`GET /ips/<ip>`) as a block for people: per ban the projection,
 * mode and reason, the threshold reached ("3 events within 60 s"), the events by name, the
 * first and last event, and the sample requests; then the ban history.
 */
export function formatExplanation(data: Explanation, options: FormatExplanationOptions): string {
  const { now, width } = options;
  const ip = printable(data.ip);
  const lines: string[] = [
    data.bans.length === 0
      ? `${ip}: no active ban`
      : `${ip}: ${plural(data.bans.length, "active ban")}`,
  ];
  for (const ban of data.bans) {
    lines.push(
      "",
      `domain ${ban.domain_id}  ${printable(ban.ip)}  ${printable(ban.rule_name)}` +
        (ban.simulated ? "  SIMULATED (a would-be ban, never published)" : ""),
    );
    const field = (name: string, value: string) => lines.push(`  ${name.padEnd(11)} ${value}`);
    const e = ban.evidence;
    if (e === null) {
      field("projection", printable(ban.projection));
      field("evidence", "not recorded (a ban from before evidence was kept)");
    } else {
      field("projection", `${printable(e.projection)}, mode ${e.mode}, reason ${e.reason}`);
      if (e.mode_change !== undefined) field("mode since", modeChange(e.mode_change));
      field("threshold", threshold(e));
      field("events", `${eventList(e.events)} (count ${e.count})`);
      field(
        "seen",
        e.first_at === e.last_at
          ? isoTime(e.first_at)
          : `${isoTime(e.first_at)} – ${isoTime(e.last_at)} (${duration(e.last_at - e.first_at)})`,
      );
    }
    field("added", `${isoTime(ban.added_at)} (${relativeTime(ban.added_at, now)})`);
    field("expires", `${isoTime(ban.expires_at)} (${relativeTime(ban.expires_at, now)})`);
    field("comment", printable(ban.comment));
    if (e !== null && e.samples.length > 0) {
      const samples = table(
        e.samples.map((s) => [
          s.method,
          s.host,
          s.url,
          s.status === 0 ? "-" : String(s.status),
          s.ua,
        ]),
        {
          header: ["METHOD", "HOST", "URL", "STATUS", "USER-AGENT"],
          right: [3],
          width,
          indent: " ".repeat(14),
        },
      );
      lines.push(`  ${"samples".padEnd(11)} ${samples[0]!.trimStart()}`, ...samples.slice(1));
    }
  }
  if (data.history.length > 0) {
    lines.push("", "history (oldest first)");
    lines.push(
      ...table(
        data.history.map((h) => [
          isoTime(h.at),
          String(h.domain_id),
          h.action,
          h.rule_name,
          h.projection,
          h.comment,
        ]),
        {
          header: ["AT", "DOMAIN", "ACTION", "RULE", "PROJECTION", "COMMENT"],
          width,
          indent: "  ",
        },
      ),
    );
  }
  return lines.join("\n");
}

/** Why a projection was in the mode it banned in: "<time>, from nursery: the nursery threshold…". */
function modeChange(c: NonNullable<BanEvidence["mode_change"]>): string {
  const why = c.why === "nursery" || c.why === "activation"
    ? `its ${c.why} threshold was reached, ${plural(c.events, "event")} from ${
      plural(c.ips, "source")
    } in a 30 s window`
    : c.why === "cooldown"
    ? "no event for its cooldown"
    : "its configuration changed";
  return `${isoTime(c.at)}, from ${printable(c.from)}: ${why}`;
}

function threshold(e: BanEvidence): string {
  if (e.threshold !== null) {
    return `${plural(e.threshold.events, "event")} within ${e.threshold.window} s`;
  }
  if (e.reason === "activation") {
    return "none: the projection turned to block and banned every IP it watched";
  }
  return "none: one event is enough";
}

function eventList(events: Record<string, number>): string {
  const entries = Object.entries(events).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (entries.length === 0) return "none recorded";
  return entries.map(([name, n]) => `${printable(name)} ${n}`).join(", ");
}

async function del(
  client: ApiClient,
  io: CommandIo,
  ip: string,
  domain: number | undefined,
  json: boolean,
): Promise<number> {
  let domains: number[];
  if (domain !== undefined) {
    domains = [domain];
  } else {
    const data = await client.data<Explanation>("GET", `/ips/${encodeURIComponent(ip)}`);
    domains = [...new Set(data.bans.map((b) => b.domain_id))].sort((a, b) => a - b);
    if (domains.length === 0) {
      throw new ApiCallError(`no active ban for ${ip} in any domain`, 400);
    }
  }
  const results: { domain_id: number; removed: number }[] = [];
  for (const id of domains) {
    const path = `/bans/${id}/${encodeURIComponent(ip)}`;
    try {
      const { removed } = await client.data<{ removed: number }>("DELETE", path);
      results.push({ domain_id: id, removed });
    } catch (error) {
      // Expired between the look-up and the delete: nothing left to lift there.
      if (domain !== undefined || !(error instanceof ApiCallError)) throw error;
      if (!/no active ban/.test(error.message)) throw error;
      results.push({ domain_id: id, removed: 0 });
    }
  }
  const removed = results.reduce((n, r) => n + r.removed, 0);
  if (json) {
    io.out(JSON.stringify({ ip, removed, domains: results }, null, 2));
    return 0;
  }
  for (const r of results) {
    io.out(`${printable(ip)}: lifted ${plural(r.removed, "ban")} in domain ${r.domain_id}`);
  }
  return 0;
}
