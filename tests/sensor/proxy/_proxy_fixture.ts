/**
 * Starts a ProxyServer in this process from INI text, over TestPools, for listener tests.
 * @module
 */
import { loadSettings } from "../../../src/shared/config/settings.ts";
import { silentLogger } from "../../../src/shared/log/logger.ts";
import { Metrics } from "../../../src/shared/metrics/metrics.ts";
import { parseProxySettings } from "../../../src/sensor/proxy/proxy_settings.ts";
import { ProxyServer } from "../../../src/sensor/proxy/proxy_server.ts";
import type { HttpRecord } from "../../../src/sensor/wire/record.ts";
import { TestPool } from "./_test_pool.ts";

export interface RunningProxy {
  server: ProxyServer;
  metrics: Metrics;
  records: HttpRecord[];
  pools: Map<string, TestPool>;
  /** `port` of listener `name`. */
  port(name: string): number;
  close(): Promise<void>;
}

/** `ini`: the [proxy] sections; each pool's `servers` become a TestPool. */
export async function startProxy(ini: string): Promise<RunningProxy> {
  const settings = loadSettings(ini, "test.ini");
  const parsed = parseProxySettings(settings, "test.ini");
  if (!parsed.settings) throw new Error(JSON.stringify(parsed.problems));
  const metrics = new Metrics();
  const records: HttpRecord[] = [];
  const pools = new Map<string, TestPool>();
  const server = new ProxyServer({
    settings: parsed.settings,
    metrics,
    log: silentLogger,
    submit: (_domain, record) => records.push(record),
    createPool: (options) => {
      const pool = new TestPool(
        (options.servers as { address: string }[]).map((s) => s.address),
      );
      pools.set(String(options.name), pool);
      return pool;
    },
  });
  await server.start();
  return {
    server,
    metrics,
    records,
    pools,
    port: (name) => server.listeners.find((l) => l.config.name === name)!.addr!.port,
    close: () => server.close(),
  };
}

/** Sends raw bytes and reads until the server closes (or `until` matches the text so far). */
export async function rawExchange(
  port: number,
  bytes: string | Uint8Array,
  until?: (text: string) => boolean,
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes);
  const buf = new Uint8Array(65536);
  let text = "";
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n));
      if (until?.(text)) break;
    }
  } catch { /* reset */ }
  try {
    conn.close();
  } catch { /* closed */ }
  return text;
}
