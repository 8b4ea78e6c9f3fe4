import { loadSettings, SettingsError } from "../shared/config/settings.ts";
import { createLogger } from "../shared/log/logger.ts";
import { RecordClock } from "../sensor/ingest/record_clock.ts";
import { Sensor } from "../sensor/sensor.ts";
import { parseCommandLine } from "./parse_command_line.ts";
import { waitForStopSignal } from "./_wait_for_stop_signal.ts";

const HELP = `Usage: qts serve [--config <settings.ini>]

Runs the sensor: reads request records from ZeroMQ ([tsng] input), runs the filter chain,
publishes ban commands ([tsng:qpc] outbound) and serves the REST API. Without --config, the
embedded defaults serve everything on loopback.

  -c, --config <file>   main settings (INI); see config/qts.ini
  --clock record        take event time from the records (msec/timestamp) instead of the wall
                        clock: for replaying recorded traffic and for tests
  -h, --help            this text
`;

/** `qts serve`: runs the sensor until SIGINT/SIGTERM. */
export async function serveCommand(args: string[]): Promise<number> {
  const parsed = parseCommandLine("serve", HELP, args, {
    config: { type: "string", short: "c" },
    clock: { type: "string" },
  });
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  let settings;
  try {
    const text = values.config === undefined ? "" : await Deno.readTextFile(values.config);
    settings = loadSettings(text, values.config ?? "(embedded defaults)");
  } catch (error) {
    if (error instanceof SettingsError) console.error(error.message);
    else console.error(`qts serve: cannot read ${values.config}: ${(error as Error).message}`);
    return 2;
  }
  if (values.clock !== undefined && values.clock !== "record" && values.clock !== "wall") {
    console.error(`qts serve: --clock must be "record" or "wall", not "${values.clock}"`);
    return 2;
  }
  const log = createLogger({ level: settings.log_level });
  const sensor = new Sensor({
    settings,
    log,
    ...(values.clock === "record" ? { clock: new RecordClock() } : {}),
  });
  try {
    await sensor.start();
  } catch (error) {
    log.log("error", "cannot start", { error: (error as Error).message });
    await sensor.close().catch(() => {});
    return 1;
  }
  const signal = await waitForStopSignal();
  log.log("info", "stopping", { signal });
  await sensor.close();
  log.log("info", "stopped");
  return 0;
}
