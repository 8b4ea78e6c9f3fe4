import { join } from "node:path";
import type { FixedListsConfig } from "../../shared/config/components.ts";
import { IpSet } from "../../shared/net/ip_set.ts";
import type { HttpRecord } from "../wire/record.ts";
import type { FilterDeps, FilterInstance, RequestContext } from "./types.ts";

type ListSpec = FixedListsConfig["lists"][number];

interface LoadedList {
  name: string;
  type: ListSpec["type"];
  flags: readonly string[];
  set: { has(ip: string): boolean };
  event: string;
}

/** Where list files come from; shared so a 1M-entry file is parsed once for every domain. */
export interface FixedListsDeps extends FilterDeps {
  /** Directory list `file`s are resolved in (components_config_dir). */
  listDir?: string;
  /** The global component's fixed_lists, for `use_component_use` and shared definitions. */
  global?: FixedListsConfig;
}

const fileCache = new Map<string, { mtime: number; set: IpSet }>();

async function loadFileSet(path: string): Promise<IpSet> {
  const stat = await Deno.stat(path);
  const mtime = stat.mtime?.getTime() ?? 0;
  const known = fileCache.get(path);
  if (known && known.mtime === mtime) return known.set;
  const lines = (await Deno.readTextFile(path)).split("\n");
  const set = IpSet.from(lines, (i) => `${path}:${i + 1}`);
  fileCache.set(path, { mtime, set });
  return set;
}

/** The lists a domain uses, resolved by name against its own and the global definitions. */
function resolveLists(config: FixedListsConfig, global: FixedListsConfig | undefined): ListSpec[] {
  const catalog = new Map<string, ListSpec>();
  for (const list of global?.lists ?? []) catalog.set(list.name, list);
  for (const list of config.lists) catalog.set(list.name, list);
  const names = new Set(config.use.length > 0 ? config.use : config.lists.map((l) => l.name));
  if (config.use_component_use && global && global !== config) {
    for (const name of global.use.length > 0 ? global.use : global.lists.map((l) => l.name)) {
      names.add(name);
    }
  }
  return [...names].map((name) => {
    const list = catalog.get(name);
    if (!list) throw new TypeError(`fixed_lists.use: no list named "${name}"`);
    return list;
  });
}

/**
 * fixed_lists, built as its two chain steps (seed §2.2.3.1): step 3 checks white lists and lists
 * with flags, step 5 the others. White → flag `whitelisted`; flags → its flags; black → event
 * `fixed_<name>`. Flags are set on both phases (the response half runs with fresh flags, and
 * the per-response filters and projections skip on them); the event is emitted on the "first"
 * phase only, so a request whose two halves both pass the chain counts once.
 */
export async function fixedLists(
  config: FixedListsConfig,
  deps: FixedListsDeps = {},
): Promise<{ early: FilterInstance; late: FilterInstance }> {
  const loaded: LoadedList[] = [];
  for (const spec of resolveLists(config, deps.global)) {
    let set: { has(ip: string): boolean };
    if (spec.file !== "") {
      // List files live in components_config_dir: a path from the API must not reach elsewhere.
      if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(spec.file) || spec.file.includes("..")) {
        throw new TypeError(
          `fixed_lists.lists "${spec.name}".file: "${spec.file}" must be a relative path ` +
            `inside components_config_dir`,
        );
      }
      const path = join(deps.listDir ?? ".", spec.file);
      try {
        set = await loadFileSet(path);
      } catch (error) {
        throw new TypeError(
          `fixed_lists.lists "${spec.name}".file: ${(error as Error).message}`,
          { cause: error },
        );
      }
      if (spec.entries.length > 0) {
        const inline = IpSet.from(
          spec.entries,
          (i) => `fixed_lists.lists "${spec.name}".entries[${i}]`,
        );
        const fileSet = set;
        set = { has: (ip: string) => fileSet.has(ip) || inline.has(ip) };
      }
    } else {
      set = IpSet.from(spec.entries, (i) => `fixed_lists.lists "${spec.name}".entries[${i}]`);
    }
    loaded.push({
      name: spec.name,
      type: spec.type,
      flags: spec.flags,
      set,
      event: `fixed_${spec.name}`,
    });
  }
  const early = loaded.filter((l) => l.type === "white" || l.flags.length > 0);
  const late = loaded.filter((l) => !(l.type === "white" || l.flags.length > 0));
  const step = (lists: LoadedList[]) =>
    function fixedLists(_record: HttpRecord, ctx: RequestContext): void {
      const first = ctx.phase === "first";
      for (const list of lists) {
        if (!list.set.has(ctx.ip)) continue;
        if (list.type === "white") ctx.flags.set("whitelisted", true);
        for (const flag of list.flags) ctx.flags.set(flag, true);
        if (list.type === "black" && first) ctx.events.push(list.event);
      }
    };
  return {
    early: { name: "fixed_lists", run: step(early) },
    late: { name: "fixed_lists", run: step(late) },
  };
}
