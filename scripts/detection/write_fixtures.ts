/**
 * Replay fixtures from the detection corpus: one `tests/fixtures/detection-<class>/` per corpus
 * class (scripts/detection/generate_corpus.ts, seed 1), each an `access.log` and a
 * `fixture.yaml` that the test suite replays through the sensor with its embedded defaults.
 *
 * An attack fixture holds that class's traffic (shortened, and for the big classes a subset of
 * its sources, to keep the log small) over a small benign background cut from the same corpus
 * over the same seconds: a few browsing visitors, one NAT gateway and one crawler, the traffic
 * a naive rule would ban with the attacker. A benign fixture holds that class alone.
 *
 * `deno run --allow-read --allow-write scripts/detection/write_fixtures.ts [--out tests/fixtures]`
 *
 * The logs and descriptions are generated; the expected commands come from the sensor:
 *
 * 1. run this script (an attack fixture written for the first time expects `commands: []`);
 * 2. `deno task replay --update tests/fixtures/detection-*` writes the sensor's commands;
 * 3. run this script again: it keeps each fixture's commands (only the keys at, method, ip_addr,
 *    rule_name and comment), rewrites the rest identically, and scores the commands against the
 *    fixture's ground truth like scripts/detection/score_detection.ts: every attack source banned
 *    within its class's target, no benign source banned, and the first ban of each source by the
 *    rule the description names. It exits 1 when a fixture fails that check: such a fixture would
 *    enshrine a wrong result and must not be committed.
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { stringify as stringifyYaml } from "yaml";
import {
  ATTACK_CLASSES,
  type AttackClass,
  BENIGN_CLASSES,
  type BenignClass,
  type ClassName,
  type ClassTruth,
  generateCorpus,
  type SourceTruth,
  type Truth,
} from "./generate_corpus.ts";
import { type CommandLike, type DetectionScore, scoreDetection } from "./score_detection.ts";

/** The corpus every fixture is cut from. */
const SEED = 1;
/** Visitors of the benign `browsing` fixture: the generator's 2000 × this. */
const BROWSING_SCALE = 0.008;
/** Keys an expected command keeps. */
const KEYS = ["at", "method", "ip_addr", "rule_name", "comment"] as const;
/** Width the fixture text is wrapped to (deno fmt's lineWidth). */
const WIDTH = 100;

/** How an attack fixture is cut from the corpus. */
interface AttackPlan {
  /** Keep the first `sources` attack sources to start (all when undefined). */
  sources?: number;
  /** Keep each attack source's first `keep` seconds of log time. */
  keep: number;
  /** Seconds of background before the attack's first request. */
  lead: number;
  /** Seconds of background after the last attack source's kept traffic. */
  tail: number;
  /** Browsing visitors in the background. */
  visitors: number;
  /** Prefer visitors who fail a login in the window (for the login attacks). */
  logins: boolean;
  /** Rules expected to make each source's first ban. */
  rules: readonly string[];
  /** The sentence saying which rule bans the class and why. */
  expected: string;
}

const PLANS: Record<AttackClass, AttackPlan> = {
  flood: {
    keep: 5,
    lead: 15,
    tail: 15,
    visitors: 4,
    logins: false,
    rules: ["tsng.location_rate"],
    expected: "tsng.location_rate bans each flood source (loc_rate_def1_GET/): the def1 zone " +
      "(2 r/s, burst 40) rejects most of its requests and one source alone at 130 rejections " +
      "within 10 s is banned in any state of the projection (its bypass)",
  },
  scanner: {
    keep: 20,
    lead: 15,
    tail: 10,
    visitors: 4,
    logins: false,
    rules: ["tsng.scanner", "tsng.probe"],
    expected: "the six self-declared tools are banned by tsng.scanner (scanner_ua) or " +
      "tsng.probe, the four with browser User-Agents by tsng.probe (3 probe events within " +
      "120 s); tsng.response_status (probing) and tsng.many_uas (Nikto numbers its tests in the " +
      "User-Agent) add their own bans later",
  },
  credential_stuffing: {
    sources: 8,
    keep: 20,
    lead: 15,
    tail: 10,
    visitors: 4,
    logins: true,
    rules: ["tsng.response_status"],
    expected: "tsng.response_status bans each source (status_auth: 5 failed logins within " +
      "600 s that are at least 30 % of its requests)",
  },
  brute_force: {
    keep: 60,
    lead: 15,
    tail: 10,
    visitors: 4,
    logins: true,
    rules: ["tsng.scanner", "tsng.probe", "tsng.response_status"],
    expected: "each source is banned by the first rule its requests satisfy: Hydra's " +
      "User-Agent by tsng.scanner, the POSTs to /wp-login.php by tsng.probe (WordPress paths), " +
      "the 403s on /user/login by tsng.response_status (status_forbidden_post: 5 within 600 s)",
  },
  login_botnet: {
    sources: 40,
    keep: 135,
    lead: 15,
    tail: 5,
    visitors: 4,
    logins: true,
    rules: ["tsng.response_status"],
    expected: "tsng.response_status bans each source at its fifth failed login " +
      "(status_auth: 5 within 600 s, at least 30 % of its requests), one attempt every 20–30 s " +
      "so about 100–120 s after its first",
  },
  login_flood_fast: {
    keep: 4,
    lead: 15,
    tail: 10,
    visitors: 4,
    logins: true,
    rules: ["tsng.response_status"],
    expected: "tsng.response_status bans each source within its first second (status_auth: " +
      "the fifth 401 comes half a second in)",
  },
  ua_rotation: {
    keep: 30,
    lead: 15,
    tail: 10,
    visitors: 4,
    logins: false,
    rules: ["tsng.many_uas"],
    expected: "tsng.many_uas bans each source (many_uas: past 10 User-Agents within 300 s with " +
      "most requests bringing a new one; 5 events within 60 s)",
  },
  http_botnet: {
    sources: 24,
    keep: 60,
    lead: 15,
    tail: 10,
    visitors: 4,
    logins: false,
    rules: ["tsng.location_rate"],
    expected: "tsng.location_rate bans each bot (loc_rate_def1_GET/): the def1 zone (2 r/s, " +
      "burst 40) rejects what each sends over 2 a second, 20 and more sources rejected within " +
      "30 s turn the projection from nursery to block, and block bans a source at 10 " +
      "rejections within 60 s; the visitors, the NAT gateway and the crawler stay under the zone",
  },
  soft_stuffing: {
    keep: 40,
    lead: 15,
    tail: 10,
    visitors: 4,
    logins: true,
    rules: ["tsng.login_rate"],
    expected: "tsng.login_rate bans each source (loc_rate_login_POST/login: the login zone, " +
      "20 POSTs a minute with a burst of 10, rejects its attempts; 10 rejections within 60 s), " +
      "although every attempt is answered 200 and response_status sees no failure",
  },
  ipv6_rotation: {
    keep: 60,
    lead: 15,
    tail: 10,
    visitors: 4,
    logins: true,
    rules: ["tsng.response_status"],
    expected: "tsng.response_status bans the /64 (status_auth counted per /64: its failed " +
      "logins add up although no address repeats)",
  },
};

/** How a benign fixture is cut from the corpus. */
interface BenignPlan {
  /** A sentence on what the fixture shows beyond "no command". */
  note?: string;
  /** Seconds of log time kept, from the corpus start (all when undefined). */
  window?: readonly [number, number];
  /** Keep only the source with the most distinct User-Agents in the window. */
  one?: boolean;
  /** What the fixture holds, when not the whole class. */
  cut?: string;
}

const BENIGN_PLANS: Record<BenignClass, BenignPlan> = {
  browsing: { cut: `the generator at scale ${BROWSING_SCALE}` },
  nat_gateway: { window: [300, 500], one: true },
  crawler: {
    window: [0, 840],
    note: "The replay may not reach a DNS resolver, so the crawlers can stay unverified: they " +
      "must be spared on their behaviour alone.",
  },
  health_check: {},
  api_client: {},
  power_user: {},
  mobile_gateway: {
    window: [420, 510],
    note: "Some 50 people browse at once behind the one address, more browsers than many_uas " +
      "keeps per IP: it must remember them rather than take each for a new one.",
  },
};

// ---------------------------------------------------------------------------------------------
// Lines

interface LogLine {
  text: string;
  ip: string;
  /** Seconds after the corpus start. */
  sec: number;
  /** Class and source of the line (undefined: not in the truth). */
  cls?: ClassName;
  source?: string;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Unix seconds of a generated line's `[02/Nov/2026:10:00:00 +0000]`. */
function lineSeconds(text: string): number {
  const m = /\[(\d\d)\/(\w{3})\/(\d{4}):(\d\d):(\d\d):(\d\d) \+0000\]/.exec(text);
  if (m === null) throw new Error(`not a generated line: ${text.slice(0, 80)}`);
  return Date.UTC(+m[3]!, MONTHS.indexOf(m[2]!), +m[1]!, +m[4]!, +m[5]!, +m[6]!) / 1000;
}

/** The `/64` of a full (uncompressed) IPv6 address, as the truth names prefix sources. */
function prefix64(ip: string): string {
  return `${ip.split(":").slice(0, 4).join(":")}::/64`;
}

function indexLines(lines: readonly string[], truth: Truth): LogLine[] {
  const owner = new Map<string, [ClassName, string]>();
  for (const c of truth.classes) {
    for (const s of c.sources) owner.set(s.source, [c.name, s.source]);
  }
  return lines.map((text) => {
    const ip = text.slice(0, text.indexOf(" "));
    const hit = owner.get(ip) ?? (ip.includes(":") ? owner.get(prefix64(ip)) : undefined);
    const line: LogLine = { text, ip, sec: lineSeconds(text) - truth.start };
    if (hit !== undefined) [line.cls, line.source] = hit;
    return line;
  });
}

// ---------------------------------------------------------------------------------------------
// Cutting a fixture

/** One fixture: its log lines and the ground truth of what they hold. */
interface Cut {
  name: ClassName;
  lines: LogLine[];
  /** Truth of the kept lines, classes in this order: the fixture's class, then background. */
  truth: Truth;
  /** What was kept, for the description. */
  summary: string;
  window: [number, number];
}

/** The truth of `lines` for the classes named, sources recounted from the kept lines. */
function truthOf(lines: readonly LogLine[], corpus: Truth, order: readonly ClassName[]): Truth {
  const classes: ClassTruth[] = [];
  for (const name of order) {
    const whole = corpus.classes.find((c) => c.name === name);
    if (whole === undefined) continue;
    const sources = new Map<string, SourceTruth & { ips: Set<string> }>();
    let count = 0;
    for (const line of lines) {
      if (line.cls !== name) continue;
      count++;
      const second = corpus.start + line.sec;
      const s = sources.get(line.source!);
      if (s === undefined) {
        sources.set(line.source!, {
          source: line.source!,
          first: second,
          last: second,
          requests: 1,
          ips: new Set([line.ip]),
        });
      } else {
        s.last = second;
        s.requests++;
        s.ips.add(line.ip);
      }
    }
    if (count === 0) continue;
    classes.push({
      name,
      kind: whole.kind,
      description: whole.description,
      ...(whole.target !== undefined ? { target: whole.target } : {}),
      lines: count,
      sources: [...sources.values()].map(({ ips, ...s }) =>
        s.source.includes("/") ? { ...s, addresses: ips.size } : s
      ).sort((a, b) => a.first - b.first || (a.source < b.source ? -1 : 1)),
    });
  }
  return { ...corpus, lines: lines.length, classes };
}

interface SourceStats {
  source: string;
  lines: number;
  uas: Set<string>;
  failedLogins: number;
}

function statsBySource(lines: readonly LogLine[], cls: ClassName): SourceStats[] {
  const stats = new Map<string, SourceStats>();
  for (const line of lines) {
    if (line.cls !== cls) continue;
    let s = stats.get(line.source!);
    if (s === undefined) {
      s = { source: line.source!, lines: 0, uas: new Set(), failedLogins: 0 };
      stats.set(line.source!, s);
    }
    s.lines++;
    s.uas.add(line.text.slice(line.text.lastIndexOf(' "')));
    if (/"POST [^"]*login[^"]*" 401 /.test(line.text)) s.failedLogins++;
  }
  // Busiest first; the address breaks ties so the choice never depends on the map's order.
  return [...stats.values()].sort((a, b) =>
    b.lines - a.lines || (a.source < b.source ? -1 : a.source > b.source ? 1 : 0)
  );
}

/** The browsing visitors of the background: failed logins first when asked, one over IPv6,
 * then the busiest. */
function pickVisitors(window: readonly LogLine[], plan: AttackPlan): string[] {
  const all = statsBySource(window, "browsing").filter((s) => s.lines >= 10);
  const picked: string[] = [];
  const take = (s: SourceStats | undefined) => {
    if (s !== undefined && !picked.includes(s.source) && picked.length < plan.visitors) {
      picked.push(s.source);
    }
  };
  if (plan.logins) all.filter((s) => s.failedLogins > 0).slice(0, 2).forEach(take);
  take(all.find((s) => s.source.includes(":")));
  for (const s of all) take(s);
  return picked;
}

function mostUas(window: readonly LogLine[], cls: ClassName): SourceStats | undefined {
  return statsBySource(window, cls).sort((a, b) => b.uas.size - a.uas.size || b.lines - a.lines)[0];
}

/** many_uas's `max_uas`: a gateway showing more browsers than this is one a naive rule bans. */
const MANY_UAS = 10;

/** The NAT gateway of the background: the quietest one showing more than MANY_UAS browsers in
 * the window (the most browsers when none does), so the log stays small. */
function pickGateway(window: readonly LogLine[]): SourceStats {
  const all = statsBySource(window, "nat_gateway");
  const many = all.filter((s) => s.uas.size > MANY_UAS);
  return many.length > 0 ? many[many.length - 1]! : mostUas(window, "nat_gateway")!;
}

function cutAttack(name: AttackClass, lines: readonly LogLine[], corpus: Truth): Cut {
  const plan = PLANS[name];
  const whole = corpus.classes.find((c) => c.name === name)!;
  const sources = whole.sources.slice(0, plan.sources ?? whole.sources.length);
  const until = new Map(sources.map((s) => [s.source, s.first - corpus.start + plan.keep]));
  const begin = Math.min(...sources.map((s) => s.first)) - corpus.start;
  const from = begin - plan.lead;
  const to = Math.max(...until.values()) + plan.tail;
  const window = lines.filter((l) => l.sec >= from && l.sec < to);
  const visitors = pickVisitors(window, plan);
  const nat = pickGateway(window).source;
  const crawler = statsBySource(window, "crawler")[0]!.source;
  const background = new Set([...visitors, nat, crawler]);
  const kept = window.filter((l) =>
    l.cls === name
      ? l.sec < (until.get(l.source!) ?? -Infinity)
      : l.source !== undefined && background.has(l.source)
  );
  const truth = truthOf(kept, corpus, [name, "browsing", "nat_gateway", "crawler"]);
  const count = sources.length === whole.sources.length
    ? `all ${sources.length} source${sources.length > 1 ? "s" : ""}`
    : `the first ${sources.length} of its ${whole.sources.length} sources to start`;
  const summary = `${count}, each for its first ${plan.keep} s`;
  return { name, lines: kept, truth, summary, window: [from, to] };
}

function cutBenign(name: BenignClass, lines: readonly LogLine[], corpus: Truth): Cut {
  const plan = BENIGN_PLANS[name];
  const [from, to] = plan.window ?? [0, corpus.span];
  let kept = lines.filter((l) => l.cls === name && l.sec >= from && l.sec < to);
  let summary = plan.cut ?? (plan.window !== undefined ? "" : "the whole class");
  const whole = corpus.classes.find((c) => c.name === name)!;
  if (plan.one) {
    const one = mostUas(kept, name)!;
    kept = kept.filter((l) => l.source === one.source);
    summary = `${one.source} (of ${whole.sources.length}), ${one.uas.size} browsers in the window`;
  }
  if (plan.window !== undefined) {
    summary += `${summary === "" ? "" : ", "}seconds ${from}–${to} of the ${corpus.span} s corpus`;
  }
  return { name, lines: kept, truth: truthOf(kept, corpus, [name]), summary, window: [from, to] };
}

// ---------------------------------------------------------------------------------------------
// The fixture file

function dashed(name: string): string {
  return name.replaceAll("_", "-");
}

/** `>` block text wrapped to the fixture width. */
function folded(text: string, indent = "  "): string {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && indent.length + line.length + 1 + word.length > WIDTH) {
      out.push(indent + line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") out.push(indent + line);
  return out.join("\n");
}

function scalar(value: unknown): string {
  return stringifyYaml(value).trim();
}

/** One expected command as a block mapping (a flow mapping of these five keys is mostly wider
 * than deno fmt's line, which then breaks it over seven lines). */
function commandYaml(cmd: Record<string, unknown>): string {
  const lines = Object.entries(cmd).map(([k, v]) => `      ${k}: ${scalar(v)}`);
  return `    - ${lines.join("\n").slice(6)}`;
}

function noneFor(truth: Truth): string[] {
  const out: string[] = [];
  for (const c of truth.classes) {
    if (c.kind !== "benign") continue;
    for (const s of c.sources) {
      out.push(s.source.includes(":") && !s.source.includes("/") ? prefix64(s.source) : s.source);
    }
  }
  return out;
}

function seconds(n: number): string {
  return `${n} s`;
}

function describeCut(cut: Cut): string {
  const c = cut.truth.classes[0]!;
  const span = cut.window[1] - cut.window[0];
  const head = `Detection corpus class ${cut.name} (scripts/detection/generate_corpus.ts, seed ` +
    `${SEED}; regenerate with scripts/detection/write_fixtures.ts): ${c.description}.`;
  if (c.kind === "benign") {
    const plan = BENIGN_PLANS[cut.name as BenignClass];
    return `${head} Here ${cut.summary}: ${c.sources.length} source${
      c.sources.length > 1 ? "s" : ""
    }, ${c.lines} lines over ${seconds(span)} of log time, replayed with the embedded defaults. ` +
      `Benign traffic no ban tool may touch: the sensor must send no command at all.${
        plan.note === undefined ? "" : ` ${plan.note}`
      }`;
  }
  const plan = PLANS[cut.name as AttackClass];
  const target = c.target!;
  const share = target.share >= 1 ? "every source" : `${Math.round(target.share * 100)} % of them`;
  const bg = cut.truth.classes.slice(1);
  const visitors = bg.find((b) => b.name === "browsing")?.sources ?? [];
  const nat = bg.find((b) => b.name === "nat_gateway")?.sources[0];
  const crawler = bg.find((b) => b.name === "crawler")?.sources[0];
  return `${head} Here ${cut.summary} (${c.lines} lines), replayed with the embedded defaults. ` +
    `Expected: ${plan.expected}; the truth's target is ${share} banned within ` +
    `${seconds(target.seconds)} of log time from its first request. The benign background, ` +
    `interleaved over the same ${seconds(span)} (from ${plan.lead} s before the attack), must ` +
    `stay clean: ${visitors.length} browsing visitors, NAT gateway ${nat?.source} (${
      nat === undefined ? 0 : countUas(cut, nat.source)
    } browsers behind one address) and crawler ${crawler?.source}, the traffic a naive rule ` +
    `would ban with the attacker. Other rules may add an attack source again after its first ` +
    `ban (each projection bans on its own): expect.commands lists every add in order.`;
}

function countUas(cut: Cut, source: string): number {
  return statsBySource(cut.lines, "nat_gateway").find((s) => s.source === source)?.uas.size ?? 0;
}

function fixtureYaml(description: string, commands: Record<string, unknown>[], none: string[]) {
  const body = commands.length === 0 ? " []" : "\n" + commands.map(commandYaml).join("\n");
  return `description: >\n${folded(description)}\nlog: access.log\nexpect:\n  commands:${body}\n` +
    `  none_for:\n${none.map((ip) => `    - ${scalar(ip)}`).join("\n")}\n`;
}

/** A flow-mapping scalar as `--update` and this script write them: a number, a plain string, or
 * a double- or single-quoted one. */
function readScalar(text: string): unknown {
  if (text.startsWith('"')) return JSON.parse(text);
  if (text.startsWith("'")) return text.slice(1, -1).replaceAll("''", "'");
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}

/** The pairs of a flow mapping's inside (`k: v, k: "v, w"`), split at commas outside quotes. */
function flowPairs(inside: string): string[] {
  const pairs: string[] = [];
  let token = "";
  let quote = "";
  for (let i = 0; i < inside.length; i++) {
    const c = inside[i]!;
    if (quote !== "") {
      token += c;
      if (c === "\\" && quote === '"') token += inside[++i] ?? "";
      else if (c === quote) quote = "";
    } else if (c === '"' || c === "'") {
      quote = c;
      token += c;
    } else if (c === ",") {
      pairs.push(token);
      token = "";
    } else token += c;
  }
  pairs.push(token);
  return pairs.map((p) => p.trim()).filter((p) => p !== "");
}

/**
 * The entries of `expect.commands` in a fixture this script or `qts replay --update` wrote:
 * block mappings (this script) or flow mappings on one line or broken over several (`--update`,
 * deno fmt). The yaml package's parser reads environment variables, which this script has no
 * permission for; this reads no more than those formats and throws on anything else.
 */
function readCommands(text: string, file: string): Record<string, unknown>[] {
  const fail = (why: string): never => {
    throw new Error(`${file}: cannot read expect.commands (${why}); delete the file to start over`);
  };
  const head = /^ {2}commands:(.*)$/m.exec(text);
  if (head === null) return [];
  if (/^\s*\[\]\s*$/.test(head[1]!)) return [];
  if (head[1]!.trim() !== "") fail(`"${head[1]!.trim()}" after commands:`);
  const rest = text.slice(head.index + head[0].length + 1);
  const end = rest.search(/^ {0,2}\S/m);
  const body = end < 0 ? rest : rest.slice(0, end);
  // One item per `    - `; a flow mapping's continuation lines and a block mapping's further
  // keys are indented deeper.
  const items = body.split(/^ {4}- /m).slice(1).map((item) => item.trim());
  if (body.slice(0, body.search(/^ {4}- /m)).trim() !== "") fail("text before the first item");
  return items.map((item) => {
    let pairs: string[];
    if (item.startsWith("{")) {
      if (!item.endsWith("}")) fail(`unterminated mapping "${item.slice(0, 40)}"`);
      pairs = flowPairs(item.slice(1, -1));
    } else pairs = item.split("\n").map((line) => line.trim()).filter((line) => line !== "");
    const cmd: Record<string, unknown> = {};
    for (const pair of pairs) {
      const colon = pair.indexOf(": ");
      if (colon < 0 || !/^\w+$/.test(pair.slice(0, colon))) fail(`"${pair}" is not key: value`);
      cmd[pair.slice(0, colon)] = readScalar(pair.slice(colon + 2).trim());
    }
    return cmd;
  });
}

/** The expected commands of an existing fixture, reduced to KEYS; [] when there is none. */
async function existingCommands(file: string): Promise<Record<string, unknown>[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return readCommands(text, file).map((cmd) => {
    const out: Record<string, unknown> = {};
    for (const key of KEYS) if (cmd[key] !== undefined) out[key] = cmd[key];
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// Checking the expectation against the truth

interface Check {
  problems: string[];
  notes: string[];
}

function check(cut: Cut, commands: Record<string, unknown>[]): Check {
  const problems: string[] = [];
  const notes: string[] = [];
  const start = cut.truth.start + cut.lines[0]!.sec;
  const like: CommandLike[] = commands.map((cmd) => ({
    method: String(cmd.method),
    ip_addr: String(cmd.ip_addr),
    timestamp: start + Number(cmd.at),
    rule_name: String(cmd.rule_name ?? ""),
    comment: String(cmd.comment ?? ""),
  }));
  const score: DetectionScore = scoreDetection(cut.truth, like);
  for (const c of score.classes) {
    if (c.kind === "benign") {
      for (const b of c.bans) {
        problems.push(`benign ${c.name} source ${b.source} banned by ${b.command.rule_name}`);
      }
      continue;
    }
    if (!c.targetHolds) {
      problems.push(
        `${c.name}: ${c.withinTarget}/${c.sources} sources banned within ${c.target!.seconds} s`,
      );
    }
    const plan = PLANS[c.name as AttackClass];
    const rules = new Map<string, number>();
    for (const b of c.bans) {
      const key = `${b.command.rule_name} (${b.command.comment})`;
      rules.set(key, (rules.get(key) ?? 0) + 1);
      if (!plan.rules.includes(b.command.rule_name)) {
        problems.push(`${c.name} source ${b.source} first banned by ${b.command.rule_name}`);
      }
    }
    notes.push(
      `${c.name}: ${c.banned}/${c.sources} banned, time to ban ${
        c.timeToBan.length === 0 ? "-" : `${c.timeToBan[0]}–${c.max} s (median ${c.median})`
      }, target ${c.target!.seconds} s ${c.targetHolds ? "holds" : "FAILS"}; by ${
        [...rules].map(([r, n]) => `${r} ×${n}`).join(", ")
      }`,
    );
  }
  for (const cmd of score.unknownAdds) {
    problems.push(`add for ${cmd.ip_addr} (${cmd.rule_name}) hits no source of the fixture`);
  }
  if (score.earlyAdds > 0) problems.push(`${score.earlyAdds} add(s) before a source's first line`);
  return { problems, notes };
}

// ---------------------------------------------------------------------------------------------

/** Writes every fixture under `out`; returns whether every expectation checked out. */
export async function writeFixtures(out: string): Promise<boolean> {
  const mixed = generateCorpus({ seed: SEED });
  const lines = indexLines(mixed.lines, mixed.truth);
  const browsing = generateCorpus({ seed: SEED, class: "browsing", scale: BROWSING_SCALE });
  const browsingLines = indexLines(browsing.lines, browsing.truth);
  const cuts: Cut[] = [
    ...ATTACK_CLASSES.map((name) => cutAttack(name, lines, mixed.truth)),
    ...BENIGN_CLASSES.map((name) =>
      name === "browsing"
        ? cutBenign(name, browsingLines, browsing.truth)
        : cutBenign(name, lines, mixed.truth)
    ),
  ];
  let ok = true;
  for (const cut of cuts) {
    const dir = join(out, `detection-${dashed(cut.name)}`);
    await Deno.mkdir(dir, { recursive: true });
    const file = join(dir, "fixture.yaml");
    const attack = cut.truth.classes[0]!.kind === "attack";
    const commands = attack ? await existingCommands(file) : [];
    const log = cut.lines.map((l) => l.text).join("\n") + "\n";
    await Deno.writeTextFile(join(dir, "access.log"), log);
    await Deno.writeTextFile(file, fixtureYaml(describeCut(cut), commands, noneFor(cut.truth)));
    const size = new TextEncoder().encode(log).length;
    console.log(
      `${dir}: ${cut.lines.length} lines, ${(size / 1024).toFixed(0)} KiB, ${
        cut.window[1] - cut.window[0]
      } s; ${cut.truth.classes.map((c) => `${c.name} ${c.sources.length}`).join(", ")}`,
    );
    if (!attack) continue;
    if (commands.length === 0) {
      console.log(`  no expected commands yet: deno task replay --update ${dir}, then rerun`);
      ok = false;
      continue;
    }
    const result = check(cut, commands);
    for (const note of result.notes) console.log(`  ${note}`);
    for (const problem of result.problems) console.log(`  PROBLEM: ${problem}`);
    if (result.problems.length > 0) ok = false;
  }
  return ok;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { out: { type: "string", default: "tests/fixtures" }, help: { type: "boolean" } },
  });
  if (values.help) {
    console.log("Usage: write_fixtures.ts [--out tests/fixtures]");
    Deno.exit(0);
  }
  const ok = await writeFixtures(values.out);
  if (!ok) {
    console.log(
      "\nsome attack fixtures have no or wrong expectations: do not commit them as they are",
    );
    Deno.exit(1);
  }
}
