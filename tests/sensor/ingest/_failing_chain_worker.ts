/// <reference lib="deno.worker" />
/**
 * The chain worker, failing on purpose: a batch holding a record of domain 666 kills it with an
 * uncaught error, as a filter's stray timer or unhandled rejection would.
 * @module
 */
import "../../../src/sensor/ingest/chain_worker.ts";
import type { ToWorker } from "../../../src/sensor/ingest/_worker_protocol.ts";

/** The domain whose records kill the worker (worker_path_test.ts sends one). */
const FATAL_DOMAIN = 666;

// chain_worker.ts's handler (an arrow function: it needs no `this`).
const handle = self.onmessage as (event: MessageEvent<ToWorker>) => void;
self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (
    message.t === "batch" &&
    message.buffers.domains.subarray(0, message.count).includes(FATAL_DOMAIN)
  ) {
    setTimeout(() => {
      throw new Error("failure drill");
    }, 0);
    return;
  }
  handle(event);
};
