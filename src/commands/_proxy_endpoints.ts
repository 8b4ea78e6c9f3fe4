import type { ProxySettings } from "../sensor/proxy/proxy_settings.ts";

/** A `host:port` the proxy binds or connects to, and the setting that names it. */
export interface ProxyEndpoint {
  host: string;
  setting: string;
}

function netHost(hostname: string, port: number | string): string {
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

/**
 * Every listener, upstream and sensor endpoint of the proxy settings, as --allow-net spells
 * them, each once: `qts serve` and `qts proxy` check them before anything binds.
 */
export function proxyEndpoints(proxy: ProxySettings): ProxyEndpoint[] {
  const out: ProxyEndpoint[] = [];
  const add = (host: string, setting: string) => {
    if (!out.some((e) => e.host === host)) out.push({ host, setting });
  };
  for (const l of proxy.listeners) {
    add(netHost(l.hostname, l.port), `[proxy:${l.kind}:${l.name}] listen`);
  }
  for (const [name, pool] of proxy.pools) {
    for (const s of pool.servers as { address: string }[]) {
      add(s.address, `[proxy:pool:${name}] servers`);
    }
  }
  for (const [key, text] of [["bans_from", proxy.bansFrom], ["records_to", proxy.recordsTo]]) {
    const m = /^tcp:\/\/(.+)$/.exec(text!);
    if (m) add(m[1]!.replace(/^\*/, "0.0.0.0"), `[proxy] ${key}`);
  }
  if (proxy.bansApi !== "") add(new URL(proxy.bansApi).host, "[proxy] bans_api");
  if (proxy.api !== "") add(proxy.api, "[proxy] api");
  return out;
}
