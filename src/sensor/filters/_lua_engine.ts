import { fileURLToPath } from "node:url";
import { LuaEngine, LuaFactory } from "wasmoon";
import { compileRegex } from "../../shared/config/regex.ts";
import { luaPrelude } from "./_lua_prelude.ts";

/** The raw Emscripten exports we call directly, bypassing wasmoon's per-call conversions. */
interface RawModule {
  HEAPU8: Uint8Array;
  HEAPU32: Uint32Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
  _lua_getglobal(L: number, name: number): number;
  _lua_pushlstring(L: number, ptr: number, len: number): number;
  _lua_pushnumber(L: number, n: number): void;
  _lua_pushnil(L: number): void;
  _lua_pcallk(
    L: number,
    nargs: number,
    nresults: number,
    errfunc: number,
    ctx: number,
    k: number,
  ): number;
  _lua_type(L: number, idx: number): number;
  _lua_tolstring(L: number, idx: number, len: number): number;
  _lua_settop(L: number, idx: number): void;
  _lua_checkstack(L: number, n: number): number;
  _lua_sethook(L: number, hook: number, mask: number, count: number): void;
  _lua_error(L: number): number;
  _lua_tonumberx(L: number, idx: number, isnum: number): number;
  addFunction(fn: (...args: number[]) => void, signature: string): number;
  removeFunction(ptr: number): void;
}

const LUA_MASKCOUNT = 1 << 3;
const BUDGET_MESSAGE = "qts: instruction budget exceeded";
/** Wall-clock cap of one call, for instructions that are slow (huge string.rep in a loop). */
const MAX_CALL_MS = 250;
/** The count hook fires every this many instructions to check budget and clock. */
const HOOK_STEP = 100;

let factory: Promise<LuaFactory> | undefined;
let wasmExports: WebAssembly.Exports | undefined;
/** The one wasm module every state of this isolate lives in, once loaded (states share its heap). */
let luaModule: ConstructorParameters<typeof LuaEngine>[0] | undefined;
/** Lua's own bookkeeping (the record's strings interned, stack) may pass the limit by this. */
const MEMORY_SLACK = 1024 * 1024;
/** Lua's status code for an allocation refused (LUA_ERRMEM). */
const LUA_ERRMEM = 4;

/**
 * Makes the one LuaFactory, catching the wasm instance's exports on the way: wasmoon ships an
 * Emscripten build with assertions, whose `_lua_*` wrappers cost an `apply` and two checks per
 * call (the largest single cost of a Lua phase); the raw exports are plain wasm calls.
 */
async function makeFactory(): Promise<LuaFactory> {
  const api = WebAssembly as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const instantiate = api.instantiate!;
  const streaming = api.instantiateStreaming;
  const keep = (result: unknown) => {
    const instance = result instanceof WebAssembly.Instance
      ? result
      : (result as { instance: WebAssembly.Instance }).instance;
    if (typeof instance?.exports.lua_pushlstring === "function") wasmExports = instance.exports;
    return result;
  };
  api.instantiate = (...args) => instantiate.apply(WebAssembly, args).then(keep);
  if (streaming) {
    api.instantiateStreaming = (...args) => streaming.apply(WebAssembly, args).then(keep);
  }
  try {
    // wasmoon takes a Web Worker for a browser and fetches its wasm from a CDN; the sensor runs
    // chains in workers, so name the package's own file (inside the binary once compiled).
    const made = new LuaFactory(
      fileURLToPath(new URL("glue.wasm", import.meta.resolve("wasmoon"))),
    );
    await made.getLuaModule();
    return made;
  } finally {
    api.instantiate = instantiate;
    if (streaming) api.instantiateStreaming = streaming;
  }
}

/** The module's functions, raw wasm exports where we caught them. */
function rawModule(module: RawModule): RawModule {
  const raw = wasmExports;
  if (raw === undefined) return module;
  const fast = Object.create(module) as RawModule & Record<string, unknown>;
  for (const name of Object.keys(raw)) {
    if (
      typeof raw[name] === "function" &&
      typeof (module as unknown as Record<string, unknown>)[`_${name}`] === "function"
    ) {
      fast[`_${name}`] = raw[name];
    }
  }
  return fast;
}
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One value pushed per field: string, number, or undefined for nil. */
export type LuaValue = string | number | undefined;

/** Where a loaded allow_/deny_ function lives. */
export interface LuaFunctionInfo {
  phase: 4 | 6;
  index: number;
  script: string;
  name: string;
}

/**
 * One wasmoon Lua state running the prelude of `_lua_prelude.ts`. Calls go through the raw
 * C API: field values are written straight into wasm memory and pushed with lua_pushlstring,
 * the dispatcher is called with lua_pcallk, and only a non-nil result string is read back.
 * That keeps a call near 1-2 µs, against ~32 µs for wasmoon's object conversion.
 *
 * Memory: the state holds at most `memoryLimit` bytes besides the values pushed for the current
 * call; an allocation past that is refused (Lua collects garbage first), which stops the running
 * function with kind "memory". close() frees the state; its memory goes back to the module's
 * allocator for the next state (a wasm heap never shrinks, but is reused).
 */
export class LuaBridge {
  readonly #engine: LuaEngine;
  readonly #fields: readonly string[];
  readonly #onMatchError: (error: unknown) => void;
  readonly #m: RawModule;
  readonly #L: number;
  readonly #memoryLimit: number;
  readonly #names = new Map<string, number>();
  #scratch: number;
  #scratchSize = 4096;
  readonly #lenPtr: number;
  readonly #budget: number;
  readonly #hook: number;
  readonly #step: number;
  #exhausted = false;
  #spent = 0;
  #start = 0;
  #closed = false;
  /** Bytes of the current record's values (kept in `req` until the next record), not counted. */
  #recordBytes = 0;
  /** Bytes of the arguments pushed for the current call, not counted either. */
  #pushed = 0;

  private constructor(
    engine: LuaEngine,
    fields: readonly string[],
    memoryLimit: number,
    budget: number,
    onMatchError: (error: unknown) => void,
  ) {
    this.#engine = engine;
    this.#fields = fields;
    this.#onMatchError = onMatchError;
    this.#m = rawModule((engine.global.lua as unknown as { module: RawModule }).module);
    this.#L = engine.global.address;
    this.#memoryLimit = memoryLimit;
    this.#scratch = this.#m._malloc(this.#scratchSize);
    this.#lenPtr = this.#m._malloc(8);
    this.#budget = budget;
    // The instruction budget of a request: a count hook armed with lua_sethook from JS (one
    // wasm call), far cheaper than debug.sethook from Lua (~1 µs a call). It fires every
    // HOOK_STEP instructions to add up the budget and check the clock; once spent, it fires
    // at every instruction, so no pcall inside a script can catch it and carry on.
    const m = this.#m;
    const message = this.#name(BUDGET_MESSAGE);
    const messageLength = encoder.encode(BUDGET_MESSAGE).length;
    this.#step = Math.min(budget, HOOK_STEP);
    this.#hook = m.addFunction((L: number) => {
      if (!this.#exhausted) {
        this.#spent += this.#step;
        if (this.#spent < this.#budget && Date.now() - this.#start < MAX_CALL_MS) return;
        this.#exhausted = true;
        m._lua_sethook(L, this.#hook, LUA_MASKCOUNT, 1);
      }
      m._lua_pushlstring(L, message, messageLength);
      m._lua_error(L);
    }, "vii");
  }

  /** Starts a Lua state with the sandbox prelude for `fields`. */
  static async create(
    fields: readonly string[],
    budget: number,
    memoryLimit: number,
    onMatchError: (error: unknown) => void,
  ): Promise<LuaBridge> {
    factory ??= makeFactory();
    luaModule ??= await (await factory).getLuaModule();
    return LuaBridge.#open(fields, budget, memoryLimit, onMatchError);
  }

  /** A new, empty state like this one (same fields, budget, limit), made synchronously. */
  fresh(): LuaBridge {
    return LuaBridge.#open(this.#fields, this.#budget, this.#memoryLimit, this.#onMatchError);
  }

  static #open(
    fields: readonly string[],
    budget: number,
    memoryLimit: number,
    onMatchError: (error: unknown) => void,
  ): LuaBridge {
    if (luaModule === undefined) throw new TypeError("Cannot open Lua: the module is not loaded");
    const engine = new LuaEngine(luaModule, { traceAllocations: true, injectObjects: false });
    const holder: { bridge?: LuaBridge } = {};
    engine.global.set("__qts_match", (pattern: string, input: string) => {
      const start = performance.now();
      try {
        return compileRegex(pattern).test(input);
      } catch (error) {
        onMatchError(error);
        return false;
      } finally {
        // Host time (a first RE2 compile takes ~50 ms) is not the script's: keep it off the clock.
        holder.bridge?.excludeHostTime(performance.now() - start);
      }
    });
    try {
      engine.doStringSync(luaPrelude(fields, budget));
    } catch (error) {
      engine.global.close();
      throw error;
    }
    holder.bridge = new LuaBridge(engine, fields, memoryLimit, budget, onMatchError);
    return holder.bridge;
  }

  /** Moves the call's clock start forward by `ms` spent in JS on the script's behalf. */
  excludeHostTime(ms: number): void {
    this.#start += ms;
  }

  /** Loads a script; returns an error line ("<kind>\t<message>") or null. */
  load(name: string, source: string): string | null {
    return this.#call("__qts_load", [name, source]);
  }

  /** Every allow_/deny_ function loaded, in call order. */
  list(): LuaFunctionInfo[] {
    const text = this.#call("__qts_list", []) ?? "";
    return text.split("\n").filter(Boolean).map((line) => {
      const [phase, index, script, name] = line.split("\t");
      return { phase: Number(phase) as 4 | 6, index: Number(index), script: script!, name: name! };
    });
  }

  /** Runs a full garbage collection (scripts cannot: collectgarbage is not in the sandbox). */
  collect(): void {
    this.#call("__qts_collect", []);
  }

  /** Skips a function until event time `untilMs`. */
  disable(phase: 4 | 6, index: number, untilMs: number): void {
    this.#call("__qts_disable", [phase, index, untilMs]);
  }

  /**
   * Runs one phase. `values` are the field values in prelude order, or null when they are
   * those of the previous call. Returns the dispatcher's result text or null; when the
   * instruction budget ran out, a "!<index>\tbudget\t…" line for the function that was running.
   */
  phase(
    phase: 4 | 6,
    now: number,
    flags: string,
    values: readonly LuaValue[] | null,
  ): string | null {
    const m = this.#m;
    const L = this.#L;
    const before = this.memoryUsed;
    m._lua_checkstack(L, (values?.length ?? 0) + 6);
    m._lua_getglobal(L, this.#name("__qts_phase"));
    m._lua_pushnumber(L, phase);
    m._lua_pushnumber(L, now);
    this.#pushString(flags);
    if (values === null) m._lua_pushnumber(L, 0);
    else {
      m._lua_pushnumber(L, values.length);
      for (let i = 0; i < values.length; i++) {
        const value = values[i];
        if (typeof value === "string") this.#pushString(value);
        else if (typeof value === "number") m._lua_pushnumber(L, value);
        else m._lua_pushnil(L);
      }
    }
    if (values !== null) this.#recordBytes = Math.max(0, this.memoryUsed - before);
    this.#pushed = 0;
    this.#exhausted = false;
    this.#spent = 0;
    this.#start = Date.now(); // not performance.now(): an op call, measurable per request
    m._lua_sethook(L, this.#hook, LUA_MASKCOUNT, this.#step);
    const out = this.#pcall(4 + (values?.length ?? 0));
    m._lua_sethook(L, 0, 0, 0);
    if (!this.#exhausted) return out;
    m._lua_getglobal(L, this.#name("__qts_cur"));
    const index = m._lua_tonumberx(L, -1, 0);
    m._lua_settop(L, 0);
    return `!${index}\tbudget\t${BUDGET_MESSAGE}\n`;
  }

  /** Bytes the Lua state has allocated (live data and garbage not yet collected). */
  get memoryUsed(): number {
    return this.#engine.global.getMemoryUsed();
  }

  /** Whether the state holds more than its limit (plus the record's values and some slack). */
  get overLimit(): boolean {
    return this.memoryUsed > this.#memoryLimit + this.#recordBytes + MEMORY_SLACK;
  }

  /** Bytes of the wasm heap all states of this isolate share; it grows, never shrinks. */
  get heapBytes(): number {
    return this.#m.HEAPU8.length;
  }

  /** Frees the Lua state. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#m._free(this.#scratch);
    this.#m._free(this.#lenPtr);
    for (const ptr of this.#names.values()) this.#m._free(ptr);
    this.#engine.global.close();
    this.#m.removeFunction(this.#hook);
  }

  #call(fn: string, args: readonly LuaValue[]): string | null {
    if (this.#closed) throw new TypeError("Cannot call Lua: the engine is closed");
    const m = this.#m;
    const L = this.#L;
    const before = this.memoryUsed;
    m._lua_checkstack(L, args.length + 4);
    m._lua_getglobal(L, this.#name(fn));
    for (const value of args) {
      if (typeof value === "string") this.#pushString(value);
      else if (typeof value === "number") m._lua_pushnumber(L, value);
      else m._lua_pushnil(L);
    }
    this.#pushed = Math.max(0, this.memoryUsed - before);
    return this.#pcall(args.length);
  }

  /** Calls the function below `nargs` pushed arguments; returns its string result or an error line. */
  #pcall(nargs: number): string | null {
    const m = this.#m;
    const L = this.#L;
    // The limit bounds the whole state, but not our own pushes: they must never fail outside a
    // protected call, which would abort the whole wasm instance, and the request's values are
    // not the script's to account for.
    const global = this.#engine.global;
    global.setMemoryMax(this.#memoryLimit + this.#recordBytes + this.#pushed);
    let rc: number;
    try {
      rc = m._lua_pcallk(L, nargs, 1, 0, 0, 0);
    } finally {
      global.setMemoryMax(undefined);
    }
    let out: string | null = null;
    if (m._lua_type(L, -1) === 4 /* LUA_TSTRING */) {
      const ptr = m._lua_tolstring(L, -1, this.#lenPtr);
      const len = m.HEAPU32[this.#lenPtr >>> 2]!;
      out = decoder.decode(m.HEAPU8.subarray(ptr, ptr + len));
    }
    m._lua_settop(L, 0);
    if (rc !== 0) {
      return `!0\t${rc === LUA_ERRMEM ? "memory" : "error"}\t${out ?? "Lua error " + rc}\n`;
    }
    return out;
  }

  #name(fn: string): number {
    let ptr = this.#names.get(fn);
    if (ptr === undefined) {
      const bytes = encoder.encode(fn + "\0");
      ptr = this.#m._malloc(bytes.length);
      this.#m.HEAPU8.set(bytes, ptr);
      this.#names.set(fn, ptr);
    }
    return ptr;
  }

  #pushString(value: string): void {
    const m = this.#m;
    const max = value.length * 3;
    if (max > this.#scratchSize) {
      m._free(this.#scratch);
      this.#scratchSize = Math.max(max, this.#scratchSize * 2);
      this.#scratch = m._malloc(this.#scratchSize);
    }
    const heap = m.HEAPU8;
    const base = this.#scratch;
    let n = value.length;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c > 127) {
        n = encoder.encodeInto(value, heap.subarray(base, base + max)).written;
        break;
      }
      heap[base + i] = c;
    }
    m._lua_pushlstring(this.#L, base, n);
  }
}
