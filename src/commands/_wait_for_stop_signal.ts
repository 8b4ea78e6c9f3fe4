/** Resolves with the name of the first SIGINT or SIGTERM, then stops listening for both. */
export async function waitForStopSignal(): Promise<Deno.Signal> {
  const stopped = Promise.withResolvers<Deno.Signal>();
  const handlers: [Deno.Signal, () => void][] = [
    ["SIGINT", () => stopped.resolve("SIGINT")],
    ["SIGTERM", () => stopped.resolve("SIGTERM")],
  ];
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
  try {
    return await stopped.promise;
  } finally {
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
  }
}
