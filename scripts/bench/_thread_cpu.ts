/**
 * CPU time of the calling thread and of the whole process, for the benchmarks that compare
 * threads: node:process `threadCpuUsage()` (getrusage of this thread) and `cpuUsage()` (the
 * process). A Web Worker reports its own thread's figure (see WorkerRunner.cpu()), and the
 * process total minus the threads named leaves the runtime's own threads (GC helpers, I/O).
 * Resolution is the kernel's tick (10 ms here): read over runs of seconds.
 */
import process from "node:process";

/** CPU seconds (user + system) used so far by the calling thread. */
export function threadCpuSeconds(): number {
  const { user, system } = process.threadCpuUsage();
  return (user + system) / 1e6;
}

/** CPU seconds (user + system) used so far by the whole process. */
export function processCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}
