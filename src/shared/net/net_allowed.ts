/**
 * Whether this process's --allow-net covers `host` (`host:port`, `[v6]:port`), asking as Deno
 * would when its permissions prompt. Checked before binding, because some APIs (node:dgram)
 * throw a refusal from a callback, a stack trace instead of a clear error.
 */
export function netAllowed(host: string): boolean {
  const descriptor = { name: "net", host } as const;
  let state = Deno.permissions.querySync(descriptor).state;
  if (state === "prompt") state = Deno.permissions.requestSync(descriptor).state;
  return state === "granted";
}
