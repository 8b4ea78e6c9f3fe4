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
