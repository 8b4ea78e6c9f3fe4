/**
 * qts: the HTTP anomaly sensor and capture analyzer. This file only reads the command line and
 * hands over to a subcommand; each returns its exit code.
 */
import { VERSION } from "./src/shared/version.ts";
import { checkConfigCommand } from "./src/commands/check_config_command.ts";

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  serve: {
    summary: "run the sensor: ZeroMQ records in, ban commands out, REST API",
    load: async () => (await import("./src/commands/serve_command.ts")).serveCommand,
  },
  proxy: {
    summary: "reverse proxy (HTTP, WebSocket, TCP) that enforces bans and feeds the sensor",
    load: async () => (await import("./src/commands/proxy_command.ts")).proxyCommand,
  },
  replay: {
    summary: "replay traffic fixtures or logs through the real pipeline",
    load: async () => (await import("./src/commands/replay_command.ts")).replayCommand,
  },
  analyze: {
    summary: "read pcap/pcapng captures and write the flow feature table",
    load: async () => (await import("./src/commands/analyze_command.ts")).analyzeCommand,
  },
  tractor: {
    summary: "serve the TrActor REST API v1 over a capture repository",
    load: async () => (await import("./src/commands/tractor_command.ts")).tractorCommand,
  },
  model: {
    summary: "train and evaluate the traffic classifier",
    load: async () => (await import("./src/commands/model_command.ts")).modelCommand,
  },
  bouncer: {
    summary: "apply ban commands to an nftables set",
    load: async () => (await import("./src/commands/bouncer_command.ts")).bouncerCommand,
  },
  bans: {
    summary: "list a running sensor's bans, show why an IP was banned, lift a ban",
    load: async () => (await import("./src/commands/bans_command.ts")).bansCommand,
  },
  status: {
    summary: "a running sensor's health, ingest counters and projection modes",
    load: async () => (await import("./src/commands/status_command.ts")).statusCommand,
  },
  selftest: {
    summary: "check that this copy of qts works on this host: a table, exit 1 on a failure",
    load: async () => (await import("./src/commands/selftest_command.ts")).selftestCommand,
  },
  version: {
    summary: "the version, git commit, build date, Deno and permissions of this binary",
    load: async () => (await import("./src/commands/version_command.ts")).versionCommand,
  },
  "check-config": {
    summary: "validate settings and every component and domain file",
    load: () => Promise.resolve(checkConfigCommand),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) =>
    `  ${name.padEnd(width)}  ${c.summary}`
  );
  return `Usage: qts <command> [options]\n\nCommands:\n${lines.join("\n")}\n\n` +
    `Run "qts <command> --help" for a command's options. "qts --version" prints the version.`;
}

/** Runs the CLI with `args` and returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-V") {
    console.log(`qts ${VERSION}`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`qts: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return await (await command.load())(rest);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
