import { type PyzmqPeer, pyzmqPeer } from "./pyzmq_peer.ts";
import {
  outboundSubscribed,
  sensorIni,
  type SensorProcess,
  startSensor,
} from "./sensor_process.ts";

/** Two `qts serve` processes on record time, each with a libzmq PUSH in and a SUB out. */
export interface SensorPair {
  sensors: SensorProcess[];
  /** Subscribed to each sensor's outbound PUB (already receiving). */
  subs: PyzmqPeer[];
  /** Connected to each sensor's input PULL. */
  pushes: PyzmqPeer[];
  /** Closes the peers, stops the sensors, removes their directory. */
  close(): Promise<void>;
}

/**
 * Starts sensors "a" and "b" with the same domain 8984 configuration (for tests of state they
 * share, e.g. through memcached) and waits until both outbound subscriptions are in place.
 */
export async function startSensorPair(domain: Record<string, unknown>): Promise<SensorPair> {
  const dir = await Deno.makeTempDir();
  const inis = [await sensorIni(dir, "a", domain), await sensorIni(dir, "b", domain)];
  const sensors: SensorProcess[] = [];
  const subs: PyzmqPeer[] = [];
  const pushes: PyzmqPeer[] = [];
  const close = async () => {
    for (const peer of [...pushes, ...subs]) await peer.close();
    for (const sensor of sensors) await sensor.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    for (const ini of inis) sensors.push(await startSensor(ini.ini, ["--clock", "record"]));
    for (const [i, ini] of inis.entries()) {
      const endpoint = (port: number) => `tcp://127.0.0.1:${port}`;
      subs.push(
        await pyzmqPeer({ type: "SUB", mode: "connect", endpoint: endpoint(ini.outbound) }),
      );
      pushes.push(
        await pyzmqPeer({ type: "PUSH", mode: "connect", endpoint: endpoint(ini.input) }),
      );
      await subs[i]!.subscribe(new Uint8Array(0));
      await outboundSubscribed(sensors[i]!.api);
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { sensors, subs, pushes, close };
}
