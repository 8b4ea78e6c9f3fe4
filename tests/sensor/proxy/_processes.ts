/**
 * Child processes for the proxy's end-to-end tests: upstreams and `qts proxy`.
 * @module
 */
import { fileURLToPath } from "node:url";

const UPSTREAM = fileURLToPath(new URL("./_upstream_server.ts", import.meta.url));
const MAIN = fileURLToPath(new URL("../../../main.ts", import.meta.url));

/** A child process that printed its ready line. */
export interface Child {
  lines: string[];
  stop(): Promise<void>;
}

async function spawn(
  args: string[],
  ready: (line: string) => boolean,
  stream: "stdout" | "stderr",
) {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdout: stream === "stdout" ? "piped" : "null",
    stderr: stream === "stderr" ? "piped" : "null",
    stdin: "null",
  }).spawn();
  const lines: string[] = [];
  const up = Promise.withResolvers<void>();
  const reader = (async () => {
    let buffer = "";
    for await (const chunk of child[stream].pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        lines.push(line);
        if (ready(line)) up.resolve();
      }
    }
    up.reject(new Error(`exited before ready: ${lines.slice(-5).join("\n")}`));
  })();
  const timer = setTimeout(() => up.reject(new Error("not ready in 30 s")), 30_000);
  try {
    await up.promise;
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    throw error;
  } finally {
    clearTimeout(timer);
  }
  let stopped = false;
  return {
    lines,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await reader.catch(() => {});
    },
  };
}

/** Starts an upstream (`http`, `ws` or `tcp`) on `port`. */
export function startUpstream(
  mode: "http" | "ws" | "tcp",
  port: number,
  name: string = mode,
): Promise<Child> {
  return spawn(
    ["run", "--allow-net=127.0.0.1", UPSTREAM, mode, String(port), name],
    (l) => l === "ready",
    "stdout",
  );
}

/** Starts `qts proxy --config <ini>` with the permissions an operator grants. */
export function startQtsProxy(ini: string): Promise<Child> {
  return spawn(
    ["run", "--allow-net=127.0.0.1", "--allow-read", MAIN, "proxy", "--config", ini],
    (l) => l.includes('"qts proxy listening"'),
    "stderr",
  );
}

/**
 * Domain 8984's filters for the flood e2e tests: limit_req at 2r/s, burst 5, from the client IP,
 * and a projection banning it for 10 minutes as `tsng.proxy_flood`.
 */
export const FLOOD_DOMAIN = {
  limit_req_mc: {
    configurations: [{
      name: "flood",
      host: "",
      method: "",
      path: "",
      location: "/",
      key: "ip",
      rate: "2r/s",
      burst: 5,
      nodelay: true,
    }],
  },
  lm: {
    use_component_projections: false,
    projections: [{
      name: "flood",
      events: "^loc_rate_",
      rule_name: "tsng.proxy_flood",
      state: "enabled",
      timeout: 600,
    }],
  },
};
