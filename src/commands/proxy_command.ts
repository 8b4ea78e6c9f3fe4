import { createLogger } from "../shared/log/logger.ts";
import { Metrics } from "../shared/metrics/metrics.ts";
import { formatProblem } from "../shared/config/settings.ts";
import { netAllowed } from "../shared/net/net_allowed.ts";
import { parseCommandLine } from "./parse_command_line.ts";
import { waitForStopSignal } from "./_wait_for_stop_signal.ts";
import { readSettings } from "./serve_command.ts";
import { proxyEndpoints } from "./_proxy_endpoints.ts";

const HELP = `Usage: qts proxy --config <settings.ini>

Runs the reverse proxy of the [proxy] sections alone: HTTP/1.1 listeners ([proxy:http:<name>],
keep-alive, streamed bodies, WebSocket upgrades, optional TLS) and plain TCP listeners
([proxy:tcp:<name>]) over upstream pools ([proxy:pool:<name>]). Bans are enforced inline: a
banned client gets ban_status (403) on HTTP and is refused at accept on TCP, and its open
connections are closed. Alone, the proxy takes bans from a sensor's command PUB
([proxy] bans_from, bans_api for resyncs) and sends its records to a sensor's input
([proxy] records_to) in the wire format; "qts serve" runs the same proxy in process when
[proxy] enabled = true, with neither hop. [proxy] api = host:port serves /metrics and /proxy.

Network access: --allow-net must name every listener, upstream and sensor endpoint; a missing
one stops the start with one error naming it (exit 2).

  -c, --config <file>   main settings (INI); see README "Run qts in front of your site"
  -h, --help            this text
`;

/** `qts proxy`: the proxy alone, until SIGINT/SIGTERM. */
export async function proxyCommand(args: string[]): Promise<number> {
  const parsed = parseCommandLine("proxy", HELP, args, { config: { type: "string", short: "c" } });
  if (typeof parsed === "number") return parsed;
  const startLog = createLogger();
  if (parsed.values.config === undefined) {
    startLog.log("error", "qts proxy needs --config <settings.ini> with [proxy] sections");
    return 2;
  }
  const settings = await readSettings(parsed.values.config, startLog);
  if (settings === undefined) return 2;
  const log = createLogger({ level: settings.log_level });
  const { parseHostPort, parseProxySettings } = await import("../sensor/proxy/proxy_settings.ts");
  const { settings: proxy, problems } = parseProxySettings(settings, parsed.values.config);
  for (const p of problems) {
    log.log(p.severity === "error" ? "error" : "warn", `invalid settings: ${formatProblem(p)}`, {
      file: p.file,
      key: p.key,
    });
  }
  if (!proxy) return 2;
  if (proxy.listeners.length === 0) {
    log.log("error", "no [proxy:http:<name>] or [proxy:tcp:<name>] listener to run");
    return 2;
  }
  const denied = proxyEndpoints(proxy).filter((e) => !netAllowed(e.host));
  if (denied.length > 0) {
    log.log(
      "error",
      `network access to ${
        denied.map((e) => `${e.host} (${e.setting})`).join(", ")
      } is not allowed`,
      { flag: `--allow-net=…,${denied.map((e) => e.host).join(",")}` },
    );
    return 2;
  }
  const { ProxyServer } = await import("../sensor/proxy/proxy_server.ts");
  const { createPool } = await import("../sensor/proxy/create_pool.ts");
  const { PushSocket, encodeHeader, encodeRecord } = await import("./_proxy_sensor_link.ts");
  const metrics = new Metrics();
  let push: InstanceType<typeof PushSocket> | undefined;
  if (proxy.recordsTo !== "") {
    push = new PushSocket({ hwm: 100_000 });
    push.connect(proxy.recordsTo);
  }
  const stopping = waitForStopSignal();
  let server: InstanceType<typeof ProxyServer> | undefined;
  let api: Deno.HttpServer | undefined;
  try {
    server = new ProxyServer({
      settings: proxy,
      metrics,
      log,
      createPool: (options, where) => createPool(options, where, metrics, log),
      submit: push
        ? (domain, record) => {
          // PUSH drops at its high-water mark (counted by the socket); never blocks a request.
          void push!.send([encodeHeader(domain), encodeRecord(record)]).catch(() => {
            metrics.inc("qts_proxy_records_dropped_total", "Records the sensor link dropped");
          });
        }
        : undefined,
    });
    await server.start();
    if (proxy.api !== "") {
      // Checked by the settings parser: always host:port here.
      const { hostname, port } = parseHostPort(proxy.api)!;
      const s = server;
      const ready = Promise.withResolvers<void>();
      api = Deno.serve({ hostname, port, onListen: () => ready.resolve() }, (req) => {
        const path = new URL(req.url).pathname;
        if (req.method === "GET" && path === "/metrics") {
          return new Response(metrics.render(), {
            headers: { "content-type": "text/plain; version=0.0.4" },
          });
        }
        if (req.method === "GET" && path === "/proxy") {
          return Response.json({ status: "success", data: s.status() });
        }
        return new Response("not found; try GET /metrics or GET /proxy\n", { status: 404 });
      });
      await ready.promise;
    }
  } catch (error) {
    await server?.close().catch(() => {});
    await push?.close();
    log.log("error", "cannot start", { error: (error as Error).message });
    return error instanceof TypeError || error instanceof Deno.errors.NotCapable ? 2 : 1;
  }
  const signal = await stopping;
  log.log("info", "stopping", { signal });
  await api?.shutdown();
  await server.close();
  await push?.close();
  log.log("info", "stopped");
  return 0;
}
