/**
 * `deno task bench detection`: how well the sensor with its embedded defaults bans attackers and
 * spares innocents on the detection corpus (scripts/detection/), replayed in log time through
 * `qts replay --log` in a subprocess: per class banned / missed / false bans and time to ban.
 * QTS_DETECTION_CLASS runs one attack class over the benign background (or `benign`, or one
 * benign class alone); QTS_DETECTION_SCALE scales the ordinary visitors; QTS_DETECTION_SEED
 * picks another corpus. Figures only: it never fails on a result.
 * @module
 */
import { fileURLToPath } from "node:url";
import { generateCorpus, writeCorpus } from "../detection/generate_corpus.ts";
import {
  type ClassScore,
  type CommandLike,
  parseCommands,
  scoreDetection,
} from "../detection/score_detection.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function seconds(value: number | undefined): string {
  return value === undefined ? "-" : value.toFixed(value < 10 ? 1 : 0);
}

function targetText(c: ClassScore): string {
  if (c.kind === "benign") return `none banned: ${c.targetHolds ? "holds" : "FAILS"}`;
  const t = c.target;
  if (t === undefined) return "-";
  const who = t.share >= 1 ? "all" : `${Math.round(t.share * 100)} %`;
  return `${who} ≤ ${t.seconds} s: ${c.withinTarget}/${c.sources} ${
    c.targetHolds ? "holds" : "FAILS"
  }`;
}

function row(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((cell, i) => i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)).join(
    " | ",
  );
}

function describe(cmd: CommandLike): string {
  return `${cmd.rule_name} (${cmd.comment})`;
}

/** Generates the corpus, replays it through the sensor and prints the score. */
export async function run(): Promise<void> {
  const selection = Deno.env.get("QTS_DETECTION_CLASS") ?? "mixed";
  const scale = Number(Deno.env.get("QTS_DETECTION_SCALE") ?? 1);
  const seed = Number(Deno.env.get("QTS_DETECTION_SEED") ?? 1);
  const dir = await Deno.makeTempDir({ prefix: "qts-detection-bench-" });
  try {
    let t0 = performance.now();
    const corpus = generateCorpus({ class: selection, scale, seed });
    const paths = await writeCorpus(dir, corpus);
    const size = (await Deno.stat(paths.log)).size;
    const { truth } = corpus;
    console.log(
      `corpus: ${selection}, seed ${seed}, scale ${scale}: ${truth.lines} lines, ${
        (size / 1e6).toFixed(1)
      } MB, ${(truth.span / 60).toFixed(0)} min of log time, ${
        truth.classes.reduce((n, c) => n + c.sources.length, 0)
      } sources; generated in ${((performance.now() - t0) / 1000).toFixed(2)} s`,
    );

    t0 = performance.now();
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        "--allow-read",
        "--allow-write=/tmp",
        "--allow-env=LOG_TOKENS,LOG_STREAM",
        "--allow-sys=hostname",
        "main.ts",
        "replay",
        "--log",
        paths.log,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const wall = (performance.now() - t0) / 1000;
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr).trimEnd();
    console.log(
      `replay: exit ${output.code}, ${wall.toFixed(2)} s wall for ${truth.lines} lines (${
        Math.round(truth.lines / wall)
      } lines/s, ${(truth.span / wall).toFixed(0)}× log time)`,
    );
    for (const line of stderr.split("\n")) if (line !== "") console.log(`  sensor: ${line}`);
    if (output.code !== 0) {
      console.log("replay failed: no score");
      return;
    }

    const commands = parseCommands(stdout);
    const score = scoreDetection(truth, commands);
    console.log(
      `commands: ${commands.length} (${score.adds} add, ${score.dels} del); ` +
        `${score.earlyAdds} add(s) before a source's first request, not counted\n`,
    );
    const header = [
      "class",
      "kind",
      "sources",
      "banned",
      "missed/false",
      "median ttb (s)",
      "max ttb (s)",
      "target",
    ];
    const rows = score.classes.map((c) => [
      c.name,
      c.kind,
      String(c.sources),
      String(c.banned),
      String(c.kind === "attack" ? c.missed : c.falseBans),
      seconds(c.median),
      seconds(c.max),
      targetText(c),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    widths[widths.length - 1] = 0;
    console.log(row(header, widths));
    console.log(widths.map((w, i) => "-".repeat(i === widths.length - 1 ? 24 : w)).join("-|-"));
    for (const r of rows) console.log(row(r, widths));

    const botnet = score.classes.find((c) => c.name === "login_botnet");
    if (botnet !== undefined && botnet.sources > 0) {
      console.log(
        `\nlogin_botnet banned within 180 s: ${botnet.withinTarget}/${botnet.sources} (${
          (100 * botnet.withinTarget / botnet.sources).toFixed(1)
        } %)`,
      );
    }
    for (const c of score.classes.filter((c) => c.kind === "attack" && c.banned > 0)) {
      const rules = new Map<string, number>();
      for (const b of c.bans) {
        const key = describe(b.command);
        rules.set(key, (rules.get(key) ?? 0) + 1);
      }
      console.log(
        `${c.name} banned by: ${[...rules].map(([rule, n]) => `${rule} ×${n}`).join(", ")}`,
      );
    }
    const falseBans = score.classes.flatMap((c) =>
      c.kind === "benign" ? c.bans.map((b) => ({ cls: c.name, ban: b })) : []
    );
    if (falseBans.length > 0) {
      console.log(`\nfalse bans:`);
      for (const { cls, ban } of falseBans.slice(0, 40)) {
        console.log(
          `  ${cls} ${ban.source} banned by ${describe(ban.command)} ${
            seconds(ban.timeToBan)
          } s after its first request`,
        );
      }
      if (falseBans.length > 40) console.log(`  … and ${falseBans.length - 40} more`);
    }
    console.log(`\nadds for addresses not in the truth: ${score.unknownAdds.length}`);
    for (const cmd of score.unknownAdds.slice(0, 10)) {
      console.log(`  ${cmd.ip_addr} by ${describe(cmd)} at ${cmd.timestamp}`);
    }

    const attacks = score.classes.filter((c) => c.kind === "attack");
    const holding = attacks.filter((c) => c.targetHolds).length;
    const targets = attacks.length === 0
      ? "no attack classes"
      : `attack targets holding ${holding}/${attacks.length}: ${
        attacks.map((c) => `${c.name} ${c.targetHolds ? "yes" : "no"}`).join(", ")
      }`;
    console.log(
      `\ntotal: ${score.falseBans} false ban(s); ${targets}; replay wall time ${wall.toFixed(2)} s`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await run();
