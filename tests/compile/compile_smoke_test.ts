import assert from "node:assert/strict";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import {
  COMPILE_INCLUDES,
  DEFAULT_NET,
  includeFiles,
  isEmbedded,
  parseEmbeddedListing,
  ROOT,
} from "../../scripts/compile.ts";

// Two builds. The offline one runs everywhere: DENORT_BIN set to this deno makes `deno compile`
// use it as the base instead of downloading denort, so the module graph, the embedded-files
// listing and the sizes are real (the output runs as deno, not as qts). The real one needs
// denort (downloaded, or DENORT_BIN naming a denort) and then runs the binary; where there is
// none, its test is ignored with the reason in its name.

const TASK: string = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).tasks.compile;

/** Runs `deno task compile <args>` as deno.json spells it, with `env` added. */
async function runTask(args: string[], env: Record<string, string> = {}) {
  const [deno, ...taskArgs] = TASK.split(" ");
  assert.equal(deno, "deno");
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...taskArgs, ...args],
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  // deno-lint-ignore no-control-regex -- deno's terminal colours
  return { code: out.code, text: text.replace(/\x1b\[[0-9;]*m/g, "") };
}

/** Every file under src/ with its text. */
async function sources(dir = join(ROOT, "src")): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) out.push(...await sources(path));
    else if (/\.[cm]?[jt]s$/.test(entry.name)) out.push([path, await Deno.readTextFile(path)]);
  }
  return out.sort(([a], [b]) => a.localeCompare(b));
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split("\n").length;
}

/** What src/ loads besides its static imports, each with where it is loaded: from the code. */
async function runtimeLoads(): Promise<{ kind: "worker" | "asset"; file: string; at: string }[]> {
  const out: { kind: "worker" | "asset"; file: string; at: string }[] = [];
  for (const [path, text] of await sources()) {
    const at = (i: number) => `${relative(ROOT, path)}:${lineOf(text, i)}`;
    for (const m of text.matchAll(/new Worker\(/g)) {
      const url = /^new Worker\(\s*new URL\(\s*"([^"]+)",\s*import\.meta\.url\s*\)/.exec(
        text.slice(m.index),
      );
      assert.ok(
        url,
        `${at(m.index)}: a Worker must be created as new Worker(new URL("<literal>", ` +
          "import.meta.url)), so the compile test can check that its module is embedded",
      );
      out.push({ kind: "worker", file: join(dirname(path), url[1]!), at: at(m.index) });
    }
    const imports = /from\s+"(\.[^"]+)"\s+with\s*\{\s*type:\s*"(?:text|json|bytes)"/g;
    for (const m of text.matchAll(imports)) {
      out.push({ kind: "asset", file: join(dirname(path), m[1]!), at: at(m.index) });
    }
    const resolved = /new URL\(\s*"([^"]+)",\s*import\.meta\.resolve\(\s*"([^"]+)"\s*\)\s*\)/g;
    for (const m of text.matchAll(resolved)) {
      const base = dirname(fileURLToPath(import.meta.resolve(m[2]!)));
      out.push({ kind: "asset", file: join(base, m[1]!), at: at(m.index) });
    }
  }
  return out;
}

Deno.test("COMPILE_INCLUDES lists every Worker module and asset src/ loads", async () => {
  const listed = new Set(COMPILE_INCLUDES.flatMap((i) => includeFiles(i)));
  const loads = await runtimeLoads();
  assert.ok(loads.filter((l) => l.kind === "worker").length >= 2, "the Worker scan found none");
  const missing = loads.filter((l) => !listed.has(l.file));
  assert.deepEqual(
    missing.map((l) => `${relative(ROOT, l.file)} (${l.kind}, loaded at ${l.at})`),
    [],
    "add these to COMPILE_INCLUDES in scripts/compile.ts, or the binary lacks them",
  );
  for (const include of COMPILE_INCLUDES) {
    assert.ok(includeFiles(include).length > 0, `${include.path} names no file`);
  }
});

Deno.test("parseEmbeddedListing() reads files, whole directories, chains and symlinks", () => {
  const listing = parseEmbeddedListing(`Compile main.ts to qts

Embedded Files

qts
├─┬ config (57.58KB)
│ ├── default.conf (8.3KB)
│ └── lua/* (4.22KB)
├── main.ts (7.37KB)
├─┬ node_modules (3.65MB - 3.64MB unique)
│ └── yaml --> node_modules/.deno/yaml@2.9.1/node_modules/yaml
└─┬ src (4.11MB)
  ├─┬ sensor (1.14MB)
  │ └─┬ ingest (99.86KB)
  │   └── pipeline.ts (31.32KB)
  └── shared/* (283.63KB)

Files: 7.92MB
`);
  assert.equal(listing.filesSize, "7.92MB");
  assert.ok(isEmbedded(listing, "config/default.conf"));
  assert.ok(isEmbedded(listing, "config/lua/default.lua"));
  assert.ok(isEmbedded(listing, "src/sensor/ingest/pipeline.ts"));
  assert.ok(isEmbedded(listing, "src/shared/net/net_allowed.ts"));
  assert.ok(!isEmbedded(listing, "src/sensor/ingest/chain_worker.ts"));
  assert.ok(!isEmbedded(listing, "config/labels.yaml"));
});

Deno.test("deno task compile (offline, DENORT_BIN) embeds every Worker and asset, no tests", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const output = join(dir, "qts");
    const { code, text } = await runTask(["--no-check", "--output", output], {
      DENORT_BIN: Deno.execPath(),
    });
    assert.equal(code, 0, `deno task compile failed:\n${text}`);
    const listing = parseEmbeddedListing(text);
    assert.ok(listing.entries.size > 0, `no embedded-files listing in:\n${text}`);
    const missing = (await runtimeLoads())
      .filter((l) => !isEmbedded(listing, relative(ROOT, l.file)))
      .map((l) => `${relative(ROOT, l.file)} (${l.kind}, loaded at ${l.at})`);
    const listed = COMPILE_INCLUDES.flatMap((i) => includeFiles(i).map((f) => relative(ROOT, f)))
      .filter((f) => !isEmbedded(listing, f));
    assert.deepEqual(
      [...new Set([...missing, ...listed])],
      [],
      `not embedded in the binary (is its --include missing?)\n${text}`,
    );
    // Never loaded: tests, scripts, npm type declarations and the module formats not used.
    const paths = [...listing.entries.keys()];
    for (const unused of [/^tests(\/|$)/, /^scripts(\/|$)/, /_test\.ts$/, /\.d\.ts$/]) {
      assert.deepEqual(paths.filter((p) => unused.test(p)), [], `${unused} is embedded`);
    }
    assert.ok(!paths.some((p) => /\/hono\/dist\/(cjs|types)$/.test(p)), "hono's CJS/types");
    assert.ok(!paths.some((p) => /\/yaml\/browser$/.test(p)), "yaml's browser build");
    assert.match(text, /--allow-net for the embedded defaults:\n\s+127\.0\.0\.1/);
    const size = /qts: ([\d.]+) MB \(\d+ bytes\); embedded files ([^;\s]+)/.exec(text);
    assert.ok(size, `no size line in:\n${text}`);
    console.log(
      `offline build: binary ${size[1]} MB on ${basename(Deno.execPath())}, ` +
        `embedded ${size[2]}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task compile --config derives --allow-net from the settings", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "filters"));
    await Deno.mkdir(join(dir, "components"));
    await Deno.writeTextFile(
      join(dir, "components", "response_status.yaml"),
      "backend: memcached\nservers: [10.0.0.5:11211, 127.0.0.1:11211]\n",
    );
    const ini = join(dir, "qts.ini");
    await Deno.writeTextFile(
      ini,
      `[tsng]\nallow_insecure_bind = true\ninput = tcp://10.0.0.9:5555\ninput_socket = sub\n` +
        `filters_config_dir = ${join(dir, "filters")}\n` +
        `components_config_dir = ${join(dir, "components")}\n` +
        `[tsng:qpc]\noutbound = tcp://*:4101\n`,
    );
    const { code, text } = await runTask(["--print", "--config", ini, "--net", "mc.example:1"]);
    assert.equal(code, 0, text);
    const printed = JSON.parse(text.slice(text.indexOf("{")));
    const net = [...DEFAULT_NET, "10.0.0.9:5555", "10.0.0.5:11211", "mc.example:1"].join(",");
    assert.ok(printed.args.includes(`--allow-net=${net}`), printed.args.join(" "));
    assert.equal(printed.info.config, ini);
    assert.ok(printed.info.permissions.includes(`--allow-net=${net}`));
    assert.ok(!printed.args.some((a: string) => a === "-A" || a === "--allow-all"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task compile runs scripts/compile.ts without -A", () => {
  assert.match(TASK, /^deno run .* scripts\/compile\.ts$/);
  assert.ok(!/\s(-A|--allow-all)\b/.test(TASK), TASK);
});

/**
 * A real build, or why there is none: DENORT_BIN naming a denort, else deno's own download of
 * it (fails fast without network).
 */
async function realBuild(): Promise<{ binary: string } | { reason: string }> {
  const base = Deno.env.get("DENORT_BIN");
  if (base !== undefined && basename(base) === "deno") {
    return { reason: `DENORT_BIN=${base} is deno, not denort: the output would run as deno` };
  }
  const dir = await Deno.makeTempDir();
  const binary = join(dir, "qts");
  const { code, text } = await runTask(
    ["--no-check", "--output", binary],
    base === undefined ? {} : { DENORT_BIN: base },
  );
  if (code === 0) return { binary };
  await Deno.remove(dir, { recursive: true });
  const why = text.split("\n").map((l) => l.trim())
    .filter((l) => /dns error|download|denort|Name or service|network|connect/i.test(l));
  if (why.length > 0) {
    const cause = /[^:]*(dns error|Name or service|timed out|refused)[^\n]*$/i.exec(why.at(-1)!);
    return { reason: `deno compile cannot download denort here: ${cause?.[0].trim() ?? why[0]}` };
  }
  throw new Error(`deno task compile failed:\n${text}`);
}

const real = await realBuild();

Deno.test({
  name: "the compiled qts runs version, check-config and selftest" +
    ("reason" in real ? ` (ignored: ${real.reason})` : ""),
  ignore: "reason" in real,
  async fn() {
    assert.ok("binary" in real);
    try {
      const run = async (...args: string[]) => {
        const out = await new Deno.Command(real.binary, { args, stdout: "piped", stderr: "piped" })
          .output();
        const decode = (b: Uint8Array) => new TextDecoder().decode(b);
        return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
      };
      const version = await run("version", "--json");
      assert.equal(version.code, 0, version.stderr);
      const info = JSON.parse(version.stdout);
      assert.equal(info.compiled, true);
      assert.match(info.commit, /^([0-9a-f]{40}(-dirty)?|unknown)$/);
      assert.ok(info.permissions.some((p: string) => p.startsWith("--allow-net=127.0.0.1,")));
      const check = await run("check-config");
      assert.equal(check.code, 0, `embedded default.conf must validate: ${check.stderr}`);
      const selftest = await run("selftest");
      assert.equal(selftest.code, 0, `${selftest.stdout}\n${selftest.stderr}`);
    } finally {
      await Deno.remove(dirname(real.binary), { recursive: true });
    }
  },
});
