/**
 * Whether Debian's python3 with pyzmq is present, so interop tests can skip with a reason.
 * @module
 */

import { PYZMQ_PYTHON } from "./pyzmq_peer.ts";

let cached: string | undefined;

/** Returns undefined when pyzmq is usable, otherwise why not (for a skip message). */
export function pyzmqAvailable(): string | undefined {
  if (cached !== undefined) return cached || undefined;
  try {
    const out = new Deno.Command(PYZMQ_PYTHON, { args: ["-c", "import zmq"] }).outputSync();
    cached = out.success ? "" : `${PYZMQ_PYTHON} has no zmq module (apt-get install python3-zmq)`;
  } catch (error) {
    cached = `${PYZMQ_PYTHON} cannot run: ${error}`;
  }
  return cached || undefined;
}
