import type { ProbeDetectorConfig } from "../../shared/config/components.ts";
import type { HttpRecord } from "../wire/record.ts";
import { literalSet, loadList, pathPattern } from "./_detection_lists.ts";
import { memo } from "./_memo.ts";
import type { FilterDeps, FilterInstance, RequestContext } from "./types.ts";

/** Counters of a probe_detector instance, for /metrics. */
export interface ProbeCounters {
  /** Requests looked at. */
  requests: number;
  /** Requests that matched a path list or pattern. */
  probes: number;
  /** Requests with a scanner's User-Agent. */
  scanners: number;
}

/** A probe_detector instance: a filter plus its counters. */
export interface ProbeDetectorInstance extends FilterInstance {
  counters(): ProbeCounters;
}

/** Events, in the order a request is checked; a request emits at most one `probe_*`. */
export const PROBE_EVENTS = [
  "probe_attack",
  "probe_file",
  "probe_path",
  "probe_wordpress",
  "scanner_ua",
] as const;

// One percent-decoding pass, as a server would see the path; malformed escapes stay as sent.
function decodeOnce(text: string): string {
  if (!text.includes("%")) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text.replace(/%([0-9a-fA-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
  }
}

/**
 * probe_detector: requests for things no visitor of the site asks for, from the data files in
 * config/detection/ (embedded; a file of the same name in components_config_dir replaces one,
 * `extra_*` add entries for one domain): a sensitive file name as the last path segment
 * (`/.env`, `wp-config.php.bak`, web shells), a sensitive path (`/.git/`, `/phpmyadmin`), an
 * injection or traversal pattern anywhere in the decoded URL, WordPress paths on a site that is
 * not WordPress, and self-declared attack tools by User-Agent. Each is an event the `probe` and
 * `scanner` projections turn into bans once a source shows enough of them.
 */
export async function probeDetector(
  config: ProbeDetectorConfig,
  deps: FilterDeps = {},
): Promise<ProbeDetectorInstance> {
  const owner = "probe_detector";
  const list = async (file: string, extra: readonly string[]) =>
    (file === "" ? [] : await loadList(file, deps, owner)).concat(extra);
  const files = new Set((await list(config.files, config.extra_files)).map((e) => e.toLowerCase()));
  const paths = pathPattern(await list(config.paths, config.extra_paths));
  const patterns = literalSet(await list(config.patterns, config.extra_patterns));
  const agents = literalSet(await list(config.user_agents, config.extra_user_agents));
  const wordpress = config.wordpress
    ? undefined
    : pathPattern(await list(config.wordpress_paths, []));
  const except = config.except_paths.map((p) => p.toLowerCase());
  const counters: ProbeCounters = { requests: 0, probes: 0, scanners: 0 };
  // Real traffic repeats a few thousand User-Agents: remember each one's verdict.
  const scannerAgent = agents === undefined ? undefined : memo((ua) => agents.test(ua));

  /**
   * The probe event of a URL. `status` undefined: the answer is not known yet, so only what
   * needs no answer (patterns, dot files) is judged, with `deferred` saying whether the rest
   * must wait for the response half. Known: a path-list hit the site served (2xx/3xx) is a page
   * it has, no probe; a served dot file is a leak, still one.
   */
  const probe = (url: string, status: number | undefined): string | undefined => {
    const q = url.indexOf("?");
    const rawPath = q < 0 ? url : url.slice(0, q);
    if (patterns !== undefined && patterns.test(decodeOnce(url))) return "probe_attack";
    const served = status !== undefined && status >= 200 && status < 400;
    // The lists match case-insensitively; only the short last segment is lowercased.
    const path = decodeOnce(rawPath);
    if (except.length > 0) {
      const lower = path.toLowerCase();
      for (const prefix of except) if (lower.startsWith(prefix)) return undefined;
    }
    const slash = path.lastIndexOf("/");
    const base = path.slice(slash + 1).toLowerCase();
    // A dot file (/.env, /.git) served is a leak, still a probe; other names may be pages.
    const dotFile = base.startsWith(".");
    if (base !== "" && files.has(base) && (dotFile || (status !== undefined && !served))) {
      return "probe_file";
    }
    if (status === undefined || served) return undefined;
    if (paths !== undefined && paths.test(path)) return "probe_path";
    if (wordpress !== undefined && wordpress.test(path)) return "probe_wordpress";
    return undefined;
  };

  return {
    name: "probe_detector",
    run: function probeDetector(record: HttpRecord, ctx: RequestContext): void {
      // A whole record (a log line, an after-half alone) is judged at once; a before-half
      // only on what needs no answer, its response half on the rest — once per request.
      const complete = record.req_type === 1 && record.status !== 0;
      if (ctx.phase === "response") {
        if (!complete || probe(record.url, undefined) !== undefined) return;
        const late = probe(record.url, record.status);
        if (late !== undefined) {
          counters.probes++;
          ctx.events.push(late);
        }
        return;
      }
      counters.requests++;
      const event = probe(record.url, complete ? record.status : undefined);
      if (event !== undefined) {
        counters.probes++;
        ctx.events.push(event);
      }
      const ua = record.http_user_agent;
      if (scannerAgent === undefined || ua === "") return;
      if (scannerAgent(ua)) {
        counters.scanners++;
        ctx.events.push("scanner_ua");
      }
    },
    counters: () => ({ ...counters }),
  };
}
