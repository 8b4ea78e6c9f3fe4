import { ConfigStore } from "../../../src/shared/config/config_store.ts";
import { loadSettings } from "../../../src/shared/config/settings.ts";
import { HttpStats } from "../../../src/sensor/filters/statstore_http_stats.ts";
import type { FilterEnv } from "../../../src/sensor/ingest/chain_builders.ts";
import { LocalRunner } from "../../../src/sensor/ingest/local_runner.ts";
import { Pipeline, type PipelineOptions } from "../../../src/sensor/ingest/pipeline.ts";
import { ListManager } from "../../../src/sensor/lm/list_manager.ts";
import { silentLogger } from "../../../src/shared/log/logger.ts";
import { Metrics } from "../../../src/shared/metrics/metrics.ts";

/** A pipeline on the ingest thread under `force_domains = *`, with what it sends to the lm. */
export interface DomainsFixture {
  pipeline: Pipeline;
  runner: LocalRunner;
  metrics: Metrics;
  lm: ListManager;
  /** `[domain, ip, events]` of every lm.onEvents call. */
  toLm: [number, string, string[]][];
  /** Commands the list manager emitted. */
  commands: { cmd: string; ip: string }[];
  /** Event time (ms); tests move it. */
  clock: { at: number };
  store: ConfigStore;
  close(): Promise<void>;
}

/** Builds a {@linkcode DomainsFixture}; `domains` are own configurations by id. */
export async function domainsFixture(
  options: Partial<Pick<PipelineOptions, "domainCap" | "domainIdleMs">> & {
    domains?: Record<number, unknown>;
    components?: Record<string, string>;
  } = {},
): Promise<DomainsFixture> {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/filters`);
  await Deno.mkdir(`${dir}/components`);
  for (const [id, json] of Object.entries(options.domains ?? {})) {
    await Deno.writeTextFile(`${dir}/filters/${id}.json`, JSON.stringify(json));
  }
  for (const [name, text] of Object.entries(options.components ?? {})) {
    await Deno.writeTextFile(`${dir}/components/${name}`, text);
  }
  const settings = loadSettings(
    `[tsng]\nfilters_config_dir = ${dir}/filters\ncomponents_config_dir = ${dir}/components\n` +
      `state_dir =\n`,
    "test.ini",
  );
  const store = new ConfigStore(settings);
  await store.load();
  const clock = { at: 1_700_000_000_000 };
  const time = { now: () => clock.at };
  const commands: { cmd: string; ip: string }[] = [];
  const lm = new ListManager({
    emit: (c) => void commands.push({ cmd: c.method, ip: c.ip_addr }),
    hostname: "test",
    clock: time,
  });
  const toLm: [number, string, string[]][] = [];
  const onEvents = lm.onEvents.bind(lm);
  lm.onEvents = (domain, ip, events, ...rest) => {
    toLm.push([domain, ip, [...events]]);
    return onEvents(domain, ip, events, ...rest);
  };
  const env: FilterEnv = {
    settings,
    global: () => store.global,
    log: silentLogger,
    stats: new HttpStats(),
    offline: true,
  };
  const metrics = new Metrics();
  let pipeline: Pipeline | undefined = undefined;
  const runner = new LocalRunner(env, {
    decide: (d) => pipeline!.decide(d),
    drop: (r, id) => pipeline!.dropped(r, id),
  });
  pipeline = new Pipeline({
    store,
    lm,
    metrics,
    log: silentLogger,
    clock: time,
    env,
    runner,
    ...(options.domainCap !== undefined ? { domainCap: options.domainCap } : {}),
    ...(options.domainIdleMs !== undefined ? { domainIdleMs: options.domainIdleMs } : {}),
  });
  await pipeline.start();
  return {
    pipeline,
    runner,
    metrics,
    lm,
    toLm,
    commands,
    clock,
    store,
    close: async () => {
      await pipeline.close();
      await lm.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
