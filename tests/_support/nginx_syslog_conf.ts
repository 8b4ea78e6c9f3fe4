import { join } from "node:path";

const QTS_CONF = new URL("../../config/nginx/qts.conf", import.meta.url);

/**
 * Writes `nginx.conf` (and the shipped `config/nginx/qts.conf` pointed at `syslog`) into `dir`
 * for a foreground nginx whose access log goes to qts's syslog input: one server on `listen`
 * with `locations`. Returns the path of nginx.conf (run `nginx -p dir -c <it>`).
 */
export async function writeNginxSyslogConf(
  dir: string,
  listen: string,
  syslog: string,
  locations: string,
): Promise<string> {
  const qts = (await Deno.readTextFile(QTS_CONF)).replace(
    "server=127.0.0.1:5140",
    `server=${syslog}`,
  );
  if (!qts.includes(`server=${syslog}`)) throw new Error("qts.conf names no syslog endpoint");
  await Deno.writeTextFile(join(dir, "qts.conf"), qts);
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
  include ${join(dir, "qts.conf")};
  server {
    listen ${listen};
    server_name example.test;
${locations}
  }
}
`,
  );
  return conf;
}
