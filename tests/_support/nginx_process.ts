/**
 * A real nginx on loopback for tests that compare with it: the binary if installed, started
 * with a config of one `http {}` body under a temporary prefix.
 * @module
 */
import { join } from "node:path";
import { waitFor } from "./sensor_process.ts";

/** The nginx binary, or undefined when it is not installed. */
export function nginxBinary(): string | undefined {
  for (const path of ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* next */ }
  }
  return undefined;
}

/**
 * Writes `dir/nginx.conf` for a foreground nginx of one worker whose `http {}` block's body is
 * `http`, with every temporary path under `dir`. Returns its path (run `nginx -p dir -c <it>`).
 */
export async function writeNginxConf(dir: string, http: string): Promise<string> {
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((t) => `  ${t}_temp_path ${join(dir, t)};`).join("\n");
  const conf = join(dir, "nginx.conf");
  await Deno.writeTextFile(
    conf,
    `worker_processes 1;
daemon off;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 64; }
http {
${temp}
${http}
}
`,
  );
  return conf;
}

/** A running nginx. */
export interface NginxProcess {
  stop(): Promise<void>;
}

/**
 * Starts nginx (one worker, in the foreground) with `http` as its `http {}` block's body under
 * `dir`, and waits until `port` accepts connections.
 */
export async function startNginx(
  nginx: string,
  dir: string,
  http: string,
  port: number,
): Promise<NginxProcess> {
  const conf = await writeNginxConf(dir, http);
  const child = new Deno.Command(nginx, {
    args: ["-p", dir, "-c", conf],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    while (!(await stderr.read()).done) { /* drain */ }
  })();
  await waitFor("nginx to listen", async () => {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return true;
    } catch {
      return undefined;
    }
  });
  return {
    async stop() {
      child.kill("SIGQUIT");
      await child.status;
    },
  };
}
