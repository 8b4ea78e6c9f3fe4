/** A real memcached for tests: started on a free loopback port, killed by `stop()`. */
export interface MemcachedServer {
  port: number;
  server: string;
  stop(): Promise<void>;
}

/** Why memcached tests cannot run here, or undefined when the binary is installed. */
export function memcachedMissing(): string | undefined {
  try {
    Deno.statSync("/usr/bin/memcached");
    return undefined;
  } catch {
    return "memcached is not installed (apt-get install -y memcached); skipping";
  }
}

/** Starts memcached and resolves once it reports listening (bounded by `timeoutMs`). */
export async function startMemcached(timeoutMs = 10_000): Promise<MemcachedServer> {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const child = new Deno.Command("/usr/bin/memcached", {
    args: ["-l", "127.0.0.1", "-p", String(port), "-U", "0", "-u", "root", "-vv"],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`memcached did not listen: ${seen}`)), timeoutMs);
  });
  try {
    while (!seen.includes("server listening")) {
      const { value, done } = await Promise.race([reader.read(), timeout]);
      if (done) throw new Error(`memcached exited: ${seen}`);
      seen = (seen + value).slice(-4096);
    }
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    throw error;
  } finally {
    clearTimeout(timer);
  }
  // Keep draining stderr (-vv logs every command) so memcached never blocks on a full pipe.
  const drain = (async () => {
    try {
      while (!(await reader.read()).done) { /* discard */ }
    } catch { /* stream closed */ }
  })();
  let stopped = false;
  return {
    port,
    server: `127.0.0.1:${port}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
      await drain;
    },
  };
}
