import type { BouncerBan } from "./ban_state.ts";
import { elementKey } from "./nft_set.ts";

/**
 * The sensor's active bans from `GET <api>/bans` (every domain), keeping those of `rules`
 * (empty = all). Throws when the API does not answer with its success shape in 10 s.
 */
export async function fetchBans(
  api: string,
  options: { token?: string | undefined; rules?: readonly string[] | undefined } = {},
): Promise<BouncerBan[]> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(`${api.replace(/\/$/, "")}/bans`, {
    headers,
    signal: AbortSignal.timeout(10_000),
  });
  const body = await response.json().catch(() => ({})) as {
    status?: string;
    data?: { domain_id?: number; ip?: string; rule_name?: string; expires_at?: number }[];
  };
  if (!response.ok || body.status !== "success" || !Array.isArray(body.data)) {
    throw new Error(`GET /bans answered ${response.status}`);
  }
  const rules = options.rules ?? [];
  const bans: BouncerBan[] = [];
  for (const ban of body.data) {
    if (typeof ban.ip !== "string" || elementKey(ban.ip) === undefined) continue;
    const ruleName = String(ban.rule_name ?? "");
    if (rules.length > 0 && !rules.includes(ruleName)) continue;
    if (typeof ban.expires_at !== "number") continue;
    bans.push({
      domainId: typeof ban.domain_id === "number" ? ban.domain_id : 0,
      ruleName,
      ip: ban.ip,
      expiresAt: ban.expires_at,
    });
  }
  return bans;
}
