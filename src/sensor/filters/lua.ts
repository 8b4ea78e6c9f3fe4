import defaultLua from "../../../config/lua/default.lua" with { type: "text" };
import type { LuaConfig } from "../../shared/config/components.ts";
import { emptyRecord, type HttpRecord } from "../wire/record.ts";
import {
  type BatchStop,
  LuaBridge,
  type LuaFunctionInfo,
  type LuaValue,
  type LuaWhen,
} from "./_lua_engine.ts";
import { type FilterDeps, type FilterInstance, hasAnyFlag, type RequestContext } from "./types.ts";

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
  /** Calls into Lua: one per batch of requests, and one more per batch resumed. */
  calls: number;
  /** Requests run through Lua (a request resumed after a failure counts again). */
  records: number;
  /** Requests that needed no call: outside every qts.when condition of their phases. */
  prefiltered: number;
  /** Batches resumed after a function failed (budget, memory or error) and unwound them. */
  resumed: number;
  /** deny_* run alone, without their request's allow_* call (never from the chain). */
  deny_alone: number;
  /** Requests let through without Lua because the state could not be reloaded (lua is off). */
  unfiltered: number;
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
/** Marks a taken slot of the deny results waiting for their step. */
const NO_CTX = {} as RequestContext;

/**
 * Builds the lua filter: loads `config.scripts` (from components_config_dir through
 * `deps.readFile`, else the embedded `config/lua/`) into one sandboxed wasmoon state.
 *
 * `req` carries the record's wire fields that the scripts read as `x.field` or `x["field"]`
 * (a field no script reads never crosses; `pairs(req)` sees only those), `remote_addr` (the
 * client address), `domain_id`, `headers` (a table by lower-case name, parsed on first use) and
 * `flags` (a table of the flags set so far; they cross only when a script names `flags` or
 * `has_flag`, or skip_if is set). `req` is one table reused for every request.
 *
 * Requests cross into Lua in batches: `allow.runBatch` (the chain's batch path) packs the used
 * fields of many requests into one string and makes one call, in which each request's allow_*
 * and then its deny_* run back to back, as the chain would call them one request at a time;
 * deny_* results wait for the chain's deny step. `allow.run` is a batch of one. A phase with no
 * function is not called at all. Sandbox: no io, os, package, debug, require, load, dofile,
 * loadfile, string.dump or coroutine; a budget of `instruction_budget` VM instructions per
 * request and stage (all allow_* or all deny_* of one request together), 250 ms of wall time
 * per request and stage (for loops of slow instructions such as huge string.rep) and a total
 * of `memory_limit_mb` for the whole Lua state across calls (besides the batch's own text); a
 * Lua pattern match whose worst case on its subject exceeds ~2e7 steps is refused (one C call
 * cannot be interrupted). A function that errors, loops or over-allocates is stopped, counted
 * and logged (once a minute per kind) and the request goes on (a budget stop gives up the rest
 * of that request's stage, what earlier functions gave is kept), and so do the other requests
 * of its batch, resumed in a new call; one stopped by budget or memory 3 times within a minute
 * is skipped for the next minute, so a bad script cannot slow the sensor. An allocation past the
 * state's limit also resets the state before the next function runs: the scripts are loaded
 * afresh into a new state (their globals start over, skipped functions stay skipped), counted
 * as `resets` and logged, and the old state is freed, as it is by close(). allow_* run on both
 * halves of a request (their flags matter to per-response filters), deny_* on the first half
 * only, so each request emits once.
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
    records: 0,
    prefiltered: 0,
    resumed: 0,
    deny_alone: 0,
    unfiltered: 0,
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
      state.setSkip(config.skip_if);
      return state.list();
    } catch (error) {
      state.close();
      throw error;
    }
  };
  const skipIf = config.skip_if;
  // The flags cross only when a script can see them (req.flags, qts.has_flag) or they decide
  // whether deny_* run after allow_* (skip_if).
  const needsFlags = skipIf.length > 0 || /\bflags\b|\bhas_flag\b/.test(code);
  let bridge = await LuaBridge.create({
    fields: pushed,
    flags: needsFlags,
    budget,
    memoryLimit,
    onMatchError: (error) => {
      counters.error++;
      log("lua: qts.match got a bad pattern", { error: String(error) });
    },
  });
  const infos = loadAll(bridge);
  const allowCount = infos.filter((info) => info.phase === 4).length;
  const denyCount = infos.length - allowCount;
  // What the scripts promised with qts.when: a request outside every condition of a phase
  // needs no call of it (undefined: some function of the phase wants every request).
  const allowNeeds = phaseNeeds(infos, 4);
  const denyNeeds = phaseNeeds(infos, 6);
  const strikes = new Map<string, { count: number; since: number }>();
  /** Skipped functions by "phase:index", with the event time they come back, for resets. */
  const skipped = new Map<string, { phase: 4 | 6; index: number; until: number }>();
  let overLimit = false;

  const getters = used.map(getterOf);
  const values: LuaValue[] = new Array(used.length);
  let closed = false;
  // deny_* run with their request's allow_*, one stage after the other in the same call; what
  // they gave waits for the chain's deny step ([] = ran, nothing to apply): the last batch's
  // in order (the chain takes them in order), older ones not taken yet by context.
  const denied = new WeakMap<RequestContext, string[]>();
  let waitingCtxs: RequestContext[] = [];
  let waitingLines: string[][] = [];
  let waitingCount = 0;
  let waitingNext = 0;
  const takeDenied = (ctx: RequestContext): string[] | undefined => {
    if (waitingNext < waitingCount && waitingCtxs[waitingNext] === ctx) {
      const lines = waitingLines[waitingNext]!;
      waitingCtxs[waitingNext++] = NO_CTX;
      return lines;
    }
    for (let i = waitingNext; i < waitingCount; i++) {
      if (waitingCtxs[i] !== ctx) continue;
      waitingCtxs[i] = NO_CTX;
      return waitingLines[i];
    }
    const lines = denied.get(ctx);
    if (lines !== undefined) denied.delete(ctx);
    return lines;
  };
  // Per record written to the current batch: its item and mask.
  let slotItem = new Int32Array(64);
  let slotMask = new Uint8Array(64);
  const NOTHING: string[] = [];

  const flagsText = (ctx: RequestContext, pending?: readonly string[]): string => {
    if (!needsFlags) return "\n";
    let flags: ReadonlyMap<string, boolean> = ctx.flags;
    if (pending !== undefined && pending.length > 0) {
      const next = new Map(flags);
      for (const line of pending) if (line[0] === "D") next.set(line.slice(2), line[1] === "+");
      flags = next;
    }
    let text = "\n";
    for (const [name, on] of flags) if (on) text += name + "\n";
    return text;
  };
  const denyWanted = (ctx: RequestContext): boolean =>
    denyCount > 0 && ctx.phase === "first" &&
    (skipIf.length === 0 || !hasAnyFlag(ctx.flags, skipIf));
  const applyDeny = (ctx: RequestContext, line: string): void => {
    if (line.charCodeAt(0) === 69 /* E */) {
      const name = line.slice(1);
      ctx.events.push(EVENT.test(name) ? name : "lua_invalid_event");
    } else ctx.flags.set(line.slice(2), line[1] === "+");
  };

  /**
   * Runs the lua steps for items [0, n) of `records`/`ctxs` in as few calls as failures allow.
   * Mode "allow": allow_* (applied now) and, for the requests that go on to it, deny_* (kept
   * in `denied` for the deny step). Mode "deny": deny_* alone, applied now. A function that
   * fails stops the batch; it is counted, the rest of that request's stage is given up only on
   * a budget stop, and the batch goes on from the next function in a new call.
   */
  const runItems = (
    records: readonly HttpRecord[],
    ctxs: readonly RequestContext[],
    n: number,
    mode: "allow" | "deny",
  ): void => {
    if (closed) {
      counters.unfiltered += n;
      return;
    }
    if (slotItem.length < n) {
      slotItem = new Int32Array(n);
      slotMask = new Uint8Array(n);
    }
    const allow = mode === "allow" && allowCount > 0 ? 1 : 0;
    // mode allow: deny lines by item (undefined: none), and which items ran deny_*.
    let denyLines: (string[] | undefined)[] | undefined;
    let denyRan: Uint8Array | undefined;
    let from = 0;
    let resumeMask = -1;
    let resumeFirst = 1;
    // Records of the next call end before `limit`; a state that overflowed is reset once the
    // stage running at the time has ended (as it would have after that request's own call),
    // then `afterReset` says where to go on.
    let limit = n;
    let afterReset: { item: number; deny: boolean } | undefined;
    /** Resets the state, then goes on after `item`, or with its deny_* when `deny` (still to run). */
    const resetNow = (item: number, deny: boolean): void => {
      afterReset = undefined;
      limit = n;
      reset(ctxs[item]!.now);
      resumeMask = -1;
      from = item + 1;
      if (!deny) return;
      if (denyWanted(ctxs[item]!)) {
        from = item;
        resumeMask = 2;
        resumeFirst = 1;
      } else if (denyRan !== undefined) denyRan[item] = 0;
    };
    while (from < n && !closed) {
      bridge.begin();
      let written = 0;
      for (let i = from; i < limit; i++) {
        const ctx = ctxs[i]!;
        let mask: number;
        let first = 1;
        let pending: string[] | undefined;
        if (i === from && resumeMask >= 0) {
          mask = resumeMask;
          first = resumeFirst;
          pending = denyLines?.[i];
        } else {
          mask = allow === 1 && (allowNeeds === undefined || allowNeeds(records[i]!)) ? 1 : 0;
          if (denyWanted(ctx)) {
            if (denyNeeds === undefined || denyNeeds(records[i]!)) mask |= 2;
            // Its deny step is decided here: no function wants it, nothing to apply.
            else if (mode === "allow") (denyRan ??= new Uint8Array(n))[i] = 1;
          }
          if (mask === 0 && (allow === 1 || denyWanted(ctx))) counters.prefiltered++;
        }
        if (mask === 0) continue;
        if (mode === "allow" && (mask & 2) !== 0) (denyRan ??= new Uint8Array(n))[i] = 1;
        const record = records[i]!;
        for (let f = 0; f < getters.length; f++) values[f] = getters[f]!(record, ctx);
        slotItem[written] = i;
        slotMask[written] = mask;
        written++;
        bridge.write(mask, ctx.now, first, flagsText(ctx, pending), values);
      }
      resumeMask = -1;
      if (written === 0) {
        if (afterReset === undefined) break;
        resetNow(afterReset.item, afterReset.deny);
        continue;
      }
      counters.calls++;
      counters.records += written;
      const { out, stop } = bridge.run();
      if (out !== null) {
        let item = -1;
        for (const line of out.split("\n")) {
          const tag = line.charCodeAt(0);
          if (tag === 64 /* @ */) {
            item = slotItem[Number(line.slice(1)) - 1]!;
            continue;
          }
          const ctx = ctxs[item]!;
          if (tag === 87 /* W */) ctx.flags.set("whitelisted", true);
          else if (tag === 65 /* A */) ctx.flags.set(line.slice(2), line[1] === "+");
          else if (mode === "deny") applyDeny(ctx, line);
          else ((denyLines ??= [])[item] ??= []).push(line);
        }
      }
      if (stop === undefined) {
        if (afterReset === undefined) break;
        resetNow(afterReset.item, afterReset.deny);
        continue;
      }
      const item = slotItem[stop.k - 1]!;
      const mask = slotMask[stop.k - 1]!;
      const ctx = ctxs[item]!;
      failed(stop, ctx.now);
      counters.resumed++;
      from = item + 1;
      if (stop.stage === 4) {
        if (stop.kind !== "budget" && stop.fn >= 1 && stop.fn <= allowCount) {
          from = item;
          resumeMask = mask;
          resumeFirst = stop.fn + 1;
        } else if ((mask & 2) !== 0) {
          // allow_* are over for this request; its deny_* run unless allow_* flagged it out.
          if (denyWanted(ctx)) {
            from = item;
            resumeMask = 2;
          } else if (denyRan !== undefined) denyRan[item] = 0;
        }
      } else if (
        stop.stage === 6 && stop.kind !== "budget" && stop.fn >= 1 && stop.fn <= denyCount
      ) {
        from = item;
        resumeMask = 2;
        resumeFirst = stop.fn + 1;
      }
      const midStage = from === item && resumeFirst > 1;
      if (overLimit && midStage) {
        // Finish this stage of this request in the full state (alone), then reset.
        overLimit = false;
        afterReset ??= { item, deny: stop.stage === 4 && (mask & 2) !== 0 };
        if (stop.stage === 4) resumeMask = 1;
        limit = item + 1;
      } else if (afterReset !== undefined) {
        overLimit = false;
        resetNow(afterReset.item, afterReset.deny);
      } else if (overLimit) {
        // The stage is over: reset before the next one runs.
        overLimit = false;
        resetNow(item, from === item && resumeMask === 2);
      }
      if (closed) counters.unfiltered += n - from;
    }
    if (!closed && bridge.overLimit) {
      // Garbage counts until collected: only live data past the limit resets the state.
      bridge.collect();
      if (bridge.overLimit) reset(ctxs[n - 1]!.now);
    }
    if (denyRan === undefined) return;
    // Results the chain has not taken yet (a request waiting on memcached) keep by context.
    for (let i = waitingNext; i < waitingCount; i++) {
      const ctx = waitingCtxs[i]!;
      if (ctx !== NO_CTX) denied.set(ctx, waitingLines[i]!);
    }
    if (waitingCtxs.length < n) {
      waitingCtxs = new Array(n);
      waitingLines = new Array(n);
    }
    waitingCount = 0;
    waitingNext = 0;
    for (let i = 0; i < n; i++) {
      if (denyRan[i] !== 1) continue;
      const ctx = ctxs[i]!;
      // The dispatcher skipped deny_* for a request that allow_* flagged out (skip_if).
      if (skipIf.length > 0 && hasAnyFlag(ctx.flags, skipIf)) continue;
      waitingCtxs[waitingCount] = ctx;
      waitingLines[waitingCount++] = denyLines?.[i] ?? NOTHING;
    }
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

  const failed = (stop: BatchStop, now: number) => {
    const phase = stop.stage;
    const info = phase === 0
      ? undefined
      : infos.find((i) => i.phase === phase && i.index === stop.fn);
    const where = info ? `${info.script}:${info.name}` : "dispatcher";
    const k = stop.kind;
    counters[k]++;
    // An allocation refused: the state is full (Lua collected before refusing).
    if (k === "memory") overLimit = true;
    log(`lua: ${where} stopped (${k}), request continues`, {
      message: stop.message,
      count: counters[k],
    });
    if (k === "error" || !info) return;
    const key = `${info.phase}:${info.index}`;
    const strike = strikes.get(key);
    if (!strike || now - strike.since > STRIKE_WINDOW_MS) {
      strikes.set(key, { count: 1, since: now });
      return;
    }
    if (++strike.count >= STRIKES) {
      strikes.delete(key);
      counters.disabled++;
      bridge.disable(info.phase, info.index, now + DISABLE_MS);
      skipped.set(key, { phase: info.phase, index: info.index, until: now + DISABLE_MS });
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
  const one: [HttpRecord[], RequestContext[]] = [[], []];
  return {
    allow: {
      name: "lua",
      run: function luaAllow(record, ctx) {
        if (allowCount === 0 && !denyWanted(ctx)) return;
        one[0][0] = record;
        one[1][0] = ctx;
        runItems(one[0], one[1], 1, "allow");
      },
      runBatch: function luaAllowBatch(records, ctxs) {
        runItems(records, ctxs, Math.min(records.length, ctxs.length), "allow");
      },
      close,
      // One of the two steps carries the engine's counters to /metrics.
      counters: () => ({ ...counters }),
    },
    deny: {
      name: "lua",
      run: function luaDeny(record, ctx) {
        if (denyCount === 0 || ctx.phase !== "first") return;
        const lines = takeDenied(ctx);
        if (lines !== undefined) {
          for (let i = 0; i < lines.length; i++) applyDeny(ctx, lines[i]!);
          return;
        }
        // Its allow step did not run (skip_if, or a caller running deny alone).
        counters.deny_alone++;
        one[0][0] = record;
        one[1][0] = ctx;
        runItems(one[0], one[1], 1, "deny");
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

/**
 * Whether a request needs a call of `phase`: undefined when some function of it has no
 * qts.when (every request does), else whether any function's condition holds.
 */
function phaseNeeds(
  infos: readonly LuaFunctionInfo[],
  phase: 4 | 6,
): ((record: HttpRecord) => boolean) | undefined {
  const of = infos.filter((info) => info.phase === phase);
  if (of.length === 0 || of.some((info) => info.when === undefined)) return undefined;
  const tests = of.map((info) => whenTest(info.when!));
  if (tests.length === 1) return tests[0]!;
  return (record) => tests.some((test) => test(record));
}

function whenTest(when: LuaWhen): (record: HttpRecord) => boolean {
  const methods = when.methods && new Set(when.methods);
  const notMethods = when.not_methods && new Set(when.not_methods);
  const paths = when.paths && new Set(when.paths);
  const prefixes = when.path_prefixes;
  return (record) => {
    if (methods !== undefined && !methods.has(record.method)) return false;
    if (notMethods !== undefined && notMethods.has(record.method)) return false;
    if (paths !== undefined) {
      const url = record.url;
      const q = url.indexOf("?");
      if (!paths.has(q < 0 ? url : url.slice(0, q))) return false;
    }
    if (prefixes !== undefined && !prefixes.some((p) => record.url.startsWith(p))) return false;
    return true;
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
