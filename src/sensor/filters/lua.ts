import defaultLua from "../../../config/lua/default.lua" with { type: "text" };
import type { LuaConfig } from "../../shared/config/components.ts";
import { emptyRecord, type HttpRecord } from "../wire/record.ts";
import { LuaBridge, type LuaFunctionInfo, type LuaValue } from "./_lua_engine.ts";
import type { FilterDeps, FilterInstance, RequestContext } from "./types.ts";

/**
 * The scripts shipped with qts, carried by the module graph so a compiled binary has them
 * without any file beside it.
 */
const EMBEDDED_SCRIPTS: Record<string, string> = { "default.lua": defaultLua };

/** Services of the lua filter besides the common ones. */
export interface LuaDeps extends FilterDeps {
  /** Directory of the embedded scripts; default the repository's `config/lua/`. */
  embeddedDir?: URL;
}

/** Counters of a lua filter pair, for /metrics. */
export interface LuaCounters {
  /** Phase calls into Lua. */
  calls: number;
  /** Functions stopped by the instruction budget. */
  budget: number;
  /** Functions stopped by the memory limit. */
  memory: number;
  /** Functions that raised any other error. */
  error: number;
  /** Times a function was switched off for a minute after repeated budget/memory stops. */
  disabled: number;
  /** Times the Lua state crossed `memory_limit_mb` and was replaced by a fresh one. */
  resets: number;
}

/** Memory of a lua filter, in bytes. */
export interface LuaMemory {
  /** What its Lua state holds now (live data and uncollected garbage). */
  state: number;
  /** The wasm heap shared by every Lua state of this thread; it grows, never shrinks. */
  heap: number;
}

/** The two halves of the lua filter (SPEC §4 steps 4 and 6) sharing one Lua state. */
export interface LuaFilters {
  /** Step 4: every allow_*; truthy → flag `whitelisted`. */
  allow: FilterInstance;
  /** Step 6: every deny_*; truthy → event `lua_<name>`, or the returned string. */
  deny: FilterInstance;
  counters(): LuaCounters;
  /** The loaded functions, in call order. */
  functions(): LuaFunctionInfo[];
  /** Its memory now; zeros once closed. */
  memory(): LuaMemory;
}

/** Every field a script may read, by wire name, plus `remote_addr`, `domain_id`, `headers`. */
const FIELDS = [...Object.keys(emptyRecord()), "remote_addr", "domain_id"];
const EVENT = /^[A-Za-z0-9_.:-]{1,100}$/;
const STRIKES = 3;
const STRIKE_WINDOW_MS = 60_000;
const DISABLE_MS = 60_000;

/**
 * Builds the lua filter: loads `config.scripts` (from components_config_dir through
 * `deps.readFile`, else the embedded `config/lua/`) into one sandboxed wasmoon state.
 *
 * `req` carries the record's wire fields that the scripts read as `x.field` or `x["field"]`
 * (a field no script reads so is never pushed: that keeps a call near 1-2 µs; `pairs(req)`
 * sees only those), `remote_addr` (the client
 * address), `domain_id`, `headers` (a table by lower-case name, parsed on first use) and
 * `flags` (a table of the flags set so far). `req` is one table reused for every request.
 * Sandbox: no io, os, package, debug, require, load, dofile, loadfile, string.dump or
 * coroutine; a budget of `instruction_budget` VM instructions per phase call (all allow_* or
 * all deny_* of one request together), 250 ms of wall time per call (for loops of slow
 * instructions such as huge string.rep) and a total of `memory_limit_mb` for the whole Lua state
 * across calls (besides the current request's values); a Lua pattern match whose worst case on
 * its subject exceeds ~2e7 steps is refused (one C call cannot be interrupted). A function that
 * errors, loops or over-allocates is stopped, counted and logged (once a minute per kind) and
 * the request goes on; one stopped by budget or memory 3 times within a minute is skipped for the
 * next minute, so a bad script cannot slow the sensor. An allocation past the state's limit also
 * resets the state after that call: the scripts are loaded afresh into a new state (their
 * globals start over, skipped functions stay skipped), counted as `resets` and logged, and the
 * old state is freed, as it is by close(). allow_* run on both halves of a request (their flags
 * matter to per-response filters), deny_* on the first half only, so each request emits once.
 */
export async function lua(config: LuaConfig, deps: LuaDeps = {}): Promise<LuaFilters> {
  const budget = config.instruction_budget;
  const memoryLimit = config.memory_limit_mb * 1024 * 1024;
  const sources: [string, string][] = [];
  for (const { file } of config.scripts) {
    if (!/^[A-Za-z0-9_.-]+\.lua$/.test(file)) {
      throw new TypeError(`Cannot build lua: script file "${file}" must be a plain name.lua`);
    }
    sources.push([file, await readScript(file, deps)]);
  }
  const code = sources.map(([, source]) => stripComments(source)).join("\n");
  // A field counts as used where the code reads it: `x.field` or `x["field"]`.
  const used = FIELDS.filter((field) =>
    new RegExp(`\\.\\s*${field}\\b|\\[\\s*["']${field}["']\\s*\\]`).test(code)
  );
  const pushed = used.map((field) => field === "headers" ? "headers_raw" : field);

  const counters: LuaCounters = {
    calls: 0,
    budget: 0,
    memory: 0,
    error: 0,
    disabled: 0,
    resets: 0,
  };
  // deps.log is rate-limited per message by whoever provides it (the pipeline: once a minute).
  const log = (msg: string, fields: Record<string, unknown>) => deps.log?.("warn", msg, fields);

  if (sources.length === 0) return emptyFilters(counters);
  /** Loads every script into `state`; closes it and throws on the first failure. */
  const loadAll = (state: LuaBridge): LuaFunctionInfo[] => {
    try {
      for (const [file, source] of sources) {
        const failure = state.load(file, source);
        if (failure !== null) {
          const [kind, message] = failure.split("\t");
          const Err = kind === "syntax" ? SyntaxError : kind === "error" ? TypeError : RangeError;
          throw new Err(`Cannot build lua: script "${file}": ${kind}: ${message}`);
        }
      }
      return state.list();
    } catch (error) {
      state.close();
      throw error;
    }
  };
  let bridge = await LuaBridge.create(pushed, budget, memoryLimit, (error) => {
    counters.error++;
    log("lua: qts.match got a bad pattern", { error: String(error) });
  });
  const infos = loadAll(bridge);
  const allowCount = infos.filter((info) => info.phase === 4).length;
  const denyCount = infos.length - allowCount;
  const strikes = new Map<string, { count: number; since: number }>();
  /** Skipped functions by "phase:index", with the event time they come back, for resets. */
  const skipped = new Map<string, { phase: 4 | 6; index: number; until: number }>();
  let overLimit = false;

  const getters = used.map(getterOf);
  const values: LuaValue[] = new Array(used.length);
  let lastRecord: HttpRecord | undefined;
  let lastCtx: RequestContext | undefined;
  let lastNow = NaN;
  let closed = false;

  const runPhase = (phase: 4 | 6, record: HttpRecord, ctx: RequestContext): void => {
    // allow_* only set flags, which the response half needs too (per-response filters and
    // projections skip whitelisted requests); deny_* emit, once, on the first half.
    if (closed || (phase === 6 && ctx.phase !== "first")) return;
    let fresh: LuaValue[] | null = null;
    if (
      record !== lastRecord || ctx !== lastCtx || ctx.now !== lastNow ||
      phase === 4
    ) {
      for (let i = 0; i < getters.length; i++) values[i] = getters[i]!(record, ctx);
      fresh = values;
      lastRecord = record;
      lastCtx = ctx;
      lastNow = ctx.now;
    }
    let flags = "\n";
    for (const [name, on] of ctx.flags) if (on) flags += name + "\n";
    counters.calls++;
    const out = bridge.phase(phase, ctx.now, flags, fresh);
    if (bridge.overLimit) {
      // Garbage counts until collected: only live data past the limit resets the state.
      bridge.collect();
      if (bridge.overLimit) overLimit = true;
    }
    if (out !== null) {
      for (const line of out.split("\n")) {
        const tag = line.charCodeAt(0);
        if (tag === 87 /* W */) ctx.flags.set("whitelisted", true);
        else if (tag === 69 /* E */ && ctx.phase === "first") {
          const name = line.slice(1);
          ctx.events.push(EVENT.test(name) ? name : "lua_invalid_event");
        } else if (tag === 70 /* F */) ctx.flags.set(line.slice(2), line[1] === "+");
        else if (tag === 33 /* ! */) failed(phase, line, ctx.now);
      }
    }
    if (overLimit) reset(ctx.now);
  };

  /** Replaces the state by a fresh one with the scripts reloaded; frees the old one. */
  const reset = (now: number) => {
    overLimit = false;
    const used = bridge.memoryUsed;
    let next: LuaBridge;
    try {
      next = bridge.fresh();
      const again = loadAll(next);
      if (again.length !== infos.length) {
        next.close();
        throw new RangeError(
          `the scripts now define ${again.length} functions, not ${infos.length}`,
        );
      }
    } catch (error) {
      // Fail open: without a state the filter lets every request through.
      close();
      deps.log?.("error", "lua: cannot reload the scripts after a reset; lua is off", {
        error: String(error),
      });
      return;
    }
    for (const { phase, index, until } of skipped.values()) {
      if (until > now) next.disable(phase, index, until);
    }
    bridge.close();
    bridge = next;
    counters.resets++;
    log("lua: state over memory_limit_mb, reset with the scripts reloaded", {
      used_mb: Math.round(used / 1024 / 1024),
      limit_mb: config.memory_limit_mb,
      resets: counters.resets,
    });
  };

  const failed = (phase: 4 | 6, line: string, now: number) => {
    const [index, kind, message] = line.slice(1).split("\t");
    const info = infos.find((i) => i.phase === phase && i.index === Number(index));
    const where = info ? `${info.script}:${info.name}` : "dispatcher";
    const k = kind === "budget" || kind === "memory" ? kind : "error";
    counters[k]++;
    // An allocation refused: the state is full (Lua collected before refusing).
    if (k === "memory") overLimit = true;
    log(`lua: ${where} stopped (${k}), request continues`, { message, count: counters[k] });
    if (k === "error" || !info) return;
    const key = `${phase}:${index}`;
    const strike = strikes.get(key);
    if (!strike || now - strike.since > STRIKE_WINDOW_MS) {
      strikes.set(key, { count: 1, since: now });
      return;
    }
    if (++strike.count >= STRIKES) {
      strikes.delete(key);
      counters.disabled++;
      bridge.disable(phase, info.index, now + DISABLE_MS);
      skipped.set(key, { phase, index: info.index, until: now + DISABLE_MS });
      deps.log?.(
        "warn",
        `lua: ${where} skipped for ${DISABLE_MS / 1000} s after ${STRIKES} stops`,
        {
          kind: k,
        },
      );
    }
  };

  const close = () => {
    if (closed) return;
    closed = true;
    bridge.close();
  };
  return {
    allow: {
      name: "lua",
      run: function luaAllow(record, ctx) {
        if (allowCount > 0) runPhase(4, record, ctx);
      },
      close,
      // One of the two steps carries the engine's counters to /metrics.
      counters: () => ({ ...counters }),
    },
    deny: {
      name: "lua",
      run: function luaDeny(record, ctx) {
        if (denyCount > 0) runPhase(6, record, ctx);
      },
      close,
    },
    counters: () => ({ ...counters }),
    functions: () => infos.map((info) => ({ ...info })),
    memory: () =>
      closed ? { state: 0, heap: 0 } : { state: bridge.memoryUsed, heap: bridge.heapBytes },
  };
}

function emptyFilters(counters: LuaCounters): LuaFilters {
  const noop = () => {};
  return {
    allow: {
      name: "lua",
      run: function luaAllow() {},
      close: noop,
      counters: () => ({ ...counters }),
    },
    deny: { name: "lua", run: function luaDeny() {}, close: noop },
    counters: () => ({ ...counters }),
    functions: () => [],
    memory: () => ({ state: 0, heap: 0 }),
  };
}

type Getter = (record: HttpRecord, ctx: RequestContext) => LuaValue;

/** Direct property reads for the usual fields (a keyed read per field is megamorphic). */
const GETTERS: Record<string, Getter> = {
  remote_addr: (_r, ctx) => ctx.ip,
  domain_id: (_r, ctx) => ctx.domainId,
  failed_servers: (r) => Number(r.failed_servers),
  url: (r) => r.url,
  method: (r) => r.method,
  host: (r) => r.host,
  http_user_agent: (r) => r.http_user_agent,
  status: (r) => r.status,
  referer: (r) => r.referer,
  cookie: (r) => r.cookie,
  geo: (r) => r.geo,
  headers: (r) => r.headers,
  request: (r) => r.request,
  timestamp: (r) => r.timestamp,
};

function getterOf(field: string): Getter {
  return GETTERS[field] ?? ((record) => {
    const value = (record as unknown as Record<string, unknown>)[field];
    return typeof value === "string" || typeof value === "number" ? value : undefined;
  });
}

async function readScript(file: string, deps: LuaDeps): Promise<string> {
  if (deps.readFile) {
    try {
      return await deps.readFile(file);
    } catch (error) {
      if (!isNotFound(error)) {
        throw new TypeError(`Cannot build lua: cannot read script "${file}": ${error}`, {
          cause: error,
        });
      }
    }
  }
  if (deps.embeddedDir) {
    try {
      return await Deno.readTextFile(new URL(file, deps.embeddedDir));
    } catch { /* fall through to the error below */ }
  } else if (Object.hasOwn(EMBEDDED_SCRIPTS, file)) {
    return EMBEDDED_SCRIPTS[file]!;
  }
  throw new TypeError(
    `Cannot build lua: script "${file}" is neither in components_config_dir nor embedded`,
  );
}

function isNotFound(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound ||
    (error as { code?: string })?.code === "ENOENT";
}

/** Lua source without comments (strings kept), for finding the field names scripts use. */
function stripComments(source: string): string {
  return source.replace(
    /("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')|--\[(=*)\[[\s\S]*?\]\2\]|--[^\n]*/g,
    (_whole, quoted: string | undefined) => quoted ?? " ",
  );
}
