/**
 * A throwaway PostgreSQL cluster for tests: `initdb` into a temp directory, `postgres` on a free
 * loopback port with its socket in that directory, stopped and removed at the end. Run as the
 * `postgres` user (via `runuser`) when the tests run as root, since PostgreSQL refuses root.
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./sensor_process.ts";

const BIN_DIRS = [
  "/usr/lib/postgresql/17/bin",
  "/usr/lib/postgresql/16/bin",
  "/usr/lib/postgresql/15/bin",
];

/** Directory holding `initdb` and `postgres`, or undefined when PostgreSQL is not installed. */
export const postgresBin: string | undefined = BIN_DIRS.find((d) =>
  ["initdb", "postgres", "pg_ctl", "psql"].every((b) => existsSync(join(d, b)))
);

/** Why PostgreSQL tests are skipped here, or undefined when they can run. */
export const postgresMissing: string | undefined = postgresBin === undefined
  ? "PostgreSQL server binaries absent (apt-get install postgresql)"
  : Deno.uid() === 0 && !existsSync("/usr/sbin/runuser")
  ? "running as root without runuser to drop to the postgres user"
  : undefined;

if (postgresMissing !== undefined) console.log(`PostgreSQL tests skipped: ${postgresMissing}`);

/** A running throwaway cluster. */
export interface PostgresCluster {
  /** `postgres://qts@127.0.0.1:<port>/qts` (trust auth on loopback, no password). */
  url: string;
  port: number;
  /** A new empty database in the cluster; returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
  /** The same, synchronously (from an `unload` listener). */
  stopSync(): void;
}

async function run(cmd: string, args: string[], asUser: string | undefined): Promise<string> {
  const [exe, argv] = asUser === undefined
    ? [cmd, args]
    : ["/usr/sbin/runuser", ["-u", asUser, "--", cmd, ...args]];
  const out = await new Deno.Command(exe, { args: argv, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${text}`);
  return text;
}

/** Starts a cluster (initdb + postgres); waits until it accepts connections. */
export async function startPostgres(): Promise<PostgresCluster> {
  if (postgresBin === undefined) throw new Error("PostgreSQL is not installed");
  const user = Deno.uid() === 0 ? "postgres" : undefined;
  const dir = await Deno.makeTempDir({ prefix: "qts-pg-" });
  if (user !== undefined) await run("chown", [user, dir], undefined);
  const data = join(dir, "data");
  await run(
    join(postgresBin, "initdb"),
    ["-D", data, "-U", "qts", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C"],
    user,
  );
  const port = freePort();
  const pgCtl = join(postgresBin, "pg_ctl");
  // pg_ctl starts the server as a daemon and returns once it accepts connections: no child
  // process of ours outlives this call (a cluster may span several tests).
  const options = [
    `-k ${dir}`,
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    "-c fsync=off",
    "-c max_connections=100",
  ].join(" ");
  await run(
    pgCtl,
    ["-D", data, "-l", join(dir, "log"), "-o", options, "-w", "-t", "60", "start"],
    user,
  )
    .catch(async (error) => {
      const log = await Deno.readTextFile(join(dir, "log")).catch(() => "");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw new Error(`${(error as Error).message}\n${log}`);
    });
  const stopArgs = ["-D", data, "-m", "fast", "-w", "stop"];
  const psql = (sql: string) =>
    run(join(postgresBin!, "psql"), [
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-U",
      "qts",
      "-d",
      "postgres",
      "-v",
      "ON_ERROR_STOP=1",
      "-c",
      sql,
    ], undefined);
  await psql("CREATE DATABASE qts");
  return {
    url: `postgres://qts@127.0.0.1:${port}/qts`,
    port,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new RangeError(`Bad database name ${name}`);
      await psql(`CREATE DATABASE ${name}`);
      return `postgres://qts@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      await run(pgCtl, stopArgs, user).catch(() => {});
      await Deno.remove(dir, { recursive: true });
    },
    stopSync() {
      const [exe, argv] = user === undefined
        ? [pgCtl, stopArgs]
        : ["/usr/sbin/runuser", ["-u", user, "--", pgCtl, ...stopArgs]];
      new Deno.Command(exe, { args: argv, stdout: "null", stderr: "null" }).outputSync();
      Deno.removeSync(dir, { recursive: true });
    },
  };
}
