/** Shared timing helpers for the benchmarks: figures, never pass/fail. */

/** Runs `fn(i)` for `n` iterations after a warm-up and returns operations per second. */
export function opsPerSecond(
  n: number,
  fn: (i: number) => void,
  warmup = Math.min(n, 20_000),
): number {
  for (let i = 0; i < warmup; i++) fn(i);
  const start = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  const seconds = (performance.now() - start) / 1000;
  return n / seconds;
}

/** A loopback TCP port free a moment ago (for a child process or socket to bind). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** The sum of every series of metric `name` in Prometheus text. */
export function metricTotal(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

/** `12,345` style integer formatting. */
export function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Prints one figure line: `name: value unit`. */
export function report(name: string, value: number, unit: string): void {
  console.log(`${name.padEnd(48)} ${fmt(value).padStart(14)} ${unit}`);
}

/** Prints a ratio line. */
export function ratio(name: string, value: number): void {
  console.log(`${name.padEnd(48)} ${value.toFixed(3).padStart(14)} ×`);
}
