import { join } from "node:path";
import { writeNginxConf } from "./nginx_process.ts";

const QTS_CONF = new URL("../../config/nginx/qts.conf", import.meta.url);

/**
 * Writes the shipped `config/nginx/qts.conf` pointed at `syslog` into `dir` and returns an
 * `http {}` body that includes it, with one server on `listen` holding `locations`.
 */
export async function nginxSyslogHttp(
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
  return `  include ${join(dir, "qts.conf")};
  server {
    listen ${listen};
    server_name example.test;
${locations}
  }`;
}

/**
 * Writes `nginx.conf` (and qts.conf, see {@link nginxSyslogHttp}) into `dir` for a foreground
 * nginx whose access log goes to qts's syslog input. Returns the path of nginx.conf.
 */
export async function writeNginxSyslogConf(
  dir: string,
  listen: string,
  syslog: string,
  locations: string,
): Promise<string> {
  return await writeNginxConf(dir, await nginxSyslogHttp(dir, listen, syslog, locations));
}
