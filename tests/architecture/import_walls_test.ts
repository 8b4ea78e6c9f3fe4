import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SRC = join(ROOT, "src");

/** Every `.ts` file under `dir`, relative to the repository root. */
async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const full = join(dir, entry.name);
    if (entry.isDirectory) out.push(...await sources(full));
    else if (entry.name.endsWith(".ts")) out.push(relative(ROOT, full));
  }
  return out.sort();
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)[^"'`;]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

/** The repository paths a file imports (npm:, node: and bare specifiers left out). */
async function importsOf(file: string): Promise<string[]> {
  const text = await Deno.readTextFile(join(ROOT, file));
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2]!;
    if (!spec.startsWith(".")) continue;
    out.push(relative(ROOT, join(ROOT, dirname(file), spec)));
  }
  return out;
}

const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

/**
 * The walls of the layout (src/README.md): the shared base imports only itself; each wing imports
 * itself and the base; only commands see both wings. Inside the sensor, filters see records, never
 * sockets; the codec and the transport know nothing of each other; ban logic never calls the API.
 */
const RULES: { from: string; forbid: string[]; why: string }[] = [
  { from: "src/shared", forbid: ["src/sensor", "src/analyzer", "src/commands"], why: "base" },
  { from: "src/sensor", forbid: ["src/analyzer", "src/commands"], why: "sensor wing" },
  { from: "src/analyzer", forbid: ["src/sensor", "src/commands"], why: "analyzer wing" },
  {
    from: "src/sensor/filters",
    forbid: [
      "src/sensor/zmtp",
      "src/sensor/memcached",
      "src/sensor/api",
      "src/sensor/ingest",
      "src/sensor/lm",
    ],
    why: "filters see records only",
  },
  { from: "src/sensor/wire", forbid: ["src/sensor/zmtp"], why: "the codec is pure bytes" },
  { from: "src/sensor/zmtp", forbid: ["src/sensor/wire"], why: "the transport knows no record" },
  { from: "src/sensor/lm", forbid: ["src/sensor/api"], why: "the API drives ban logic" },
];

Deno.test("src/ imports keep the walls between the wings and the shared base", async () => {
  const violations: string[] = [];
  let checked = 0;
  for (const file of await sources(SRC)) {
    for (const target of await importsOf(file)) {
      checked++;
      for (const rule of RULES) {
        if (!under(file, rule.from)) continue;
        const hit = rule.forbid.find((dir) => under(target, dir));
        if (hit) violations.push(`${file} imports ${target} (${rule.why}: no ${hit})`);
      }
    }
  }
  assert.ok(checked > 300, `only ${checked} imports found: is the import pattern still right?`);
  assert.deepEqual(violations, []);
});

Deno.test("src/ has the two wings, the shared base and commands, nothing else", async () => {
  const top: string[] = [];
  for await (const entry of Deno.readDir(SRC)) top.push(entry.name);
  assert.deepEqual(top.sort(), ["README.md", "analyzer", "commands", "sensor", "shared"]);
});

Deno.test("the import-walls pattern finds static, re-export and dynamic imports", () => {
  // Guards the guard: a pattern that found nothing would pass every wall.
  const text = 'import { x } from "../../analyzer/flows/mod.ts";\nexport * from "./y.ts";\n' +
    'import type {\n  A,\n} from "../a.ts";\nconst m = await import("./m.ts");';
  const found = [...text.matchAll(IMPORT)].map((m) => m[1] ?? m[2]);
  assert.deepEqual(found, ["../../analyzer/flows/mod.ts", "./y.ts", "../a.ts", "./m.ts"]);
});
