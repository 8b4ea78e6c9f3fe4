/**
 * `deno task bench`: runs every `scripts/bench/*_bench.ts` (or the ones named on the command
 * line) one after another. Each module exports `run()`, which prints its own figures and ratios.
 * Benchmarks measure; they never fail on a timing.
 */
const here = new URL(".", import.meta.url);
const wanted = new Set(Deno.args);
const names: string[] = [];
for await (const entry of Deno.readDir(here)) {
  if (!entry.isFile || !entry.name.endsWith("_bench.ts")) continue;
  const short = entry.name.slice(0, -"_bench.ts".length);
  if (wanted.size > 0 && !wanted.has(short)) continue;
  names.push(entry.name);
}
names.sort();
let failed = 0;
for (const name of names) {
  console.log(`\n## ${name}`);
  try {
    const mod = await import(new URL(name, here).href) as { run: () => Promise<void> };
    await mod.run();
  } catch (error) {
    failed++;
    console.error(`bench ${name} failed:`, error);
  }
}
if (failed > 0) Deno.exit(1);
