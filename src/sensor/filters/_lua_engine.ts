import { fileURLToPath } from "node:url";
import { LuaEngine, LuaFactory } from "wasmoon";
import { compileRegex } from "../../shared/config/regex.ts";
import { type AllocatorExports, luaAllocator } from "./_lua_allocator.ts";
import { luaPrelude } from "./_lua_prelude.ts";
import { emptyRecord } from "../wire/record.ts";

/** The raw Emscripten exports we call directly, bypassing wasmoon's per-call conversions. */
interface RawModule {
  HEAPU8: Uint8Array;
  HEAPU32: Uint32Array;
  HEAPF64: Float64Array;
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
  _lua_setallocf(L: number, f: number, ud: number): void;
  addFunction(fn: (...args: number[]) => number | void, signature: string): number;
  removeFunction(ptr: number): void;
}

const LUA_MASKCOUNT = 1 << 3;
const BUDGET_MESSAGE = "qts: instruction budget exceeded";
/** Wall-clock cap of one call, for instructions that are slow (huge string.rep in a loop). */
const MAX_CALL_MS = 250;
/** The count hook fires every this many instructions to check budget and clock. */
const HOOK_STEP = 1000;

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
  // wasmoon's allocator (traceAllocations: every Lua allocation) calls the module's _realloc
  // and _free: the same raw exports there, so an allocation is one JS hop, not three.
  const shared = module as unknown as Record<string, unknown>;
  for (const name of ["realloc", "free", "malloc"]) {
    if (typeof raw[name] === "function") shared[`_${name}`] = raw[name];
  }
  return fast;
}
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One value pushed per field: string, number, or undefined for nil. */
export type LuaValue = string | number | undefined;

/** Where a batch stopped: a function failed, and unwound the batch to JS. */
export interface BatchStop {
  /** 1-based record of the batch. */
  k: number;
  /** 4 (allow_*), 6 (deny_*), or 0: in the dispatcher, between a record's stages. */
  stage: 0 | 4 | 6;
  /** 1-based index of the function in its stage's list (past the end: the stage had ended). */
  fn: number;
  kind: "budget" | "memory" | "error";
  message: string;
}

/** What one batch call gave: the dispatcher's lines, and where it stopped if it did. */
export interface BatchResult {
  out: string | null;
  stop: BatchStop | undefined;
}

/** Fields packed as numbers (doubles); the others as strings. */
const NUMERIC_FIELDS: ReadonlySet<string> = new Set(
  [
    ...Object.entries(emptyRecord()).filter(([, v]) => typeof v !== "string").map(([k]) => k),
    "domain_id",
  ],
);

function isNumericField(field: string): boolean {
  return NUMERIC_FIELDS.has(field);
}

/**
 * The `string.unpack` format of one record of a batch (see `_lua_prelude.ts`): in this Lua
 * build each option costs ~50-80 ns, so mask and first share one, and flags that no script
 * can see do not cross.
 */
function batchFormat(fields: readonly string[], flags: boolean): string {
  return "<I4d" + (flags ? "s4" : "") + fields.map((f) => isNumericField(f) ? "d" : "s4").join("");
}

/** What a Lua state is made for: what crosses per request, and its limits. */
export interface LuaBridgeOptions {
  /** Record fields the scripts read, in the order `write` gets their values. */
  fields: readonly string[];
  /** Whether the flags set so far cross (scripts read them, or skip_if needs them). */
  flags: boolean;
  /** VM instructions per request and stage. */
  budget: number;
  /** Bytes the state may hold. */
  memoryLimit: number;
  /** Called when qts.match gets a pattern RE2 refuses. */
  onMatchError: (error: unknown) => void;
}

/** Where a loaded allow_/deny_ function lives. */
export interface LuaFunctionInfo {
  phase: 4 | 6;
  index: number;
  script: string;
  name: string;
  /** What the script promised with qts.when: the requests outside it need no call. */
  when?: LuaWhen;
}

/** A qts.when condition: every key given must hold (a missing key holds). */
export interface LuaWhen {
  methods?: string[];
  not_methods?: string[];
  /** The URL up to "?" is one of these. */
  paths?: string[];
  /** The URL starts with one of these. */
  path_prefixes?: string[];
}

/** A qts.when condition as the prelude lists it: "key=v1\x1fv2\x1ekey=…". */
function parseWhen(text: string): LuaWhen {
  const when: LuaWhen = {};
  for (const part of text.split("\x1e")) {
    const eq = part.indexOf("=");
    when[part.slice(0, eq) as keyof LuaWhen] = part.slice(eq + 1).split("\x1f");
  }
  return when;
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
  readonly #options: LuaBridgeOptions;
  /** Whether `write` packs the flags text (see LuaBridgeOptions.flags). */
  readonly #flags: boolean;
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
  /** The stage (__qts_unit) the budget is being counted for; -1 before a batch's first. */
  #unit = -1;
  #closed = false;
  /** Bytes of the arguments pushed for the current call, not counted against the limit. */
  #pushed = 0;
  /** Per field of the prelude: true when it is packed as a number (else a string). */
  readonly #numeric: readonly boolean[];
  /** Where the next record of the batch being written goes in `#scratch`, and how many. */
  #written = 0;
  #records = 0;
  #view: DataView;
  /** Two doubles in wasm memory: bytes the state uses, and its limit (the allocator's `ud`). */
  readonly #memory: number;
  /** False when the raw exports were not caught: wasmoon's JS allocator keeps the count. */
  #wasmAllocator = false;

  private constructor(engine: LuaEngine, options: LuaBridgeOptions) {
    const { fields, memoryLimit, budget, onMatchError } = options;
    this.#options = options;
    this.#flags = options.flags;
    this.#engine = engine;
    this.#fields = fields;
    this.#numeric = fields.map(isNumericField);
    this.#onMatchError = onMatchError;
    this.#m = rawModule((engine.global.lua as unknown as { module: RawModule }).module);
    this.#L = engine.global.address;
    this.#memoryLimit = memoryLimit;
    this.#scratch = this.#m._malloc(this.#scratchSize);
    this.#lenPtr = this.#m._malloc(8);
    this.#view = new DataView(this.#m.HEAPU8.buffer);
    this.#budget = budget;
    // From here on the state allocates through the wasm allocator (see _lua_allocator.ts),
    // starting from what wasmoon's JS allocator counted while the state was being set up.
    this.#memory = this.#m._malloc(16);
    const raw = wasmExports as unknown as AllocatorExports | undefined;
    if (raw?.memory instanceof WebAssembly.Memory) {
      const stats = this.#m.HEAPF64;
      stats[this.#memory >>> 3] = engine.global.getMemoryUsed();
      stats[(this.#memory >>> 3) + 1] = Infinity;
      this.#m._lua_setallocf(this.#L, luaAllocator(this.#m, raw), this.#memory);
      this.#wasmAllocator = true;
    }
    // The instruction budget of a request: a count hook armed with lua_sethook from JS (one
    // wasm call), far cheaper than debug.sethook from Lua (~1 µs a call). It fires every
    // HOOK_STEP instructions to add up the budget and check the clock; once spent, it fires
    // at every instruction, so no pcall inside a script can catch it and carry on.
    const m = this.#m;
    const message = this.#name(BUDGET_MESSAGE);
    const messageLength = encoder.encode(BUDGET_MESSAGE).length;
    const unitName = this.#name("__qts_unit");
    this.#step = Math.min(budget, HOOK_STEP);
    this.#hook = m.addFunction((L: number) => {
      if (!this.#exhausted) {
        // A batch runs many requests' stages: the budget and the clock start again with each
        // (the dispatcher counts them in __qts_unit).
        m._lua_getglobal(L, unitName);
        const unit = m._lua_tonumberx(L, -1, 0);
        m._lua_settop(L, -2);
        if (unit !== this.#unit) {
          this.#unit = unit;
          this.#spent = 0;
          this.#start = Date.now();
        }
        this.#spent += this.#step;
        if (this.#spent < this.#budget && Date.now() - this.#start < MAX_CALL_MS) return;
        this.#exhausted = true;
        m._lua_sethook(L, this.#hook, LUA_MASKCOUNT, 1);
      }
      m._lua_pushlstring(L, message, messageLength);
      m._lua_error(L);
    }, "vii");
  }

  /** Starts a Lua state with the sandbox prelude for `options.fields`. */
  static async create(options: LuaBridgeOptions): Promise<LuaBridge> {
    factory ??= makeFactory();
    luaModule ??= await (await factory).getLuaModule();
    return LuaBridge.#open(options);
  }

  /** A new, empty state like this one (same fields, budget, limit), made synchronously. */
  fresh(): LuaBridge {
    return LuaBridge.#open(this.#options);
  }

  static #open(options: LuaBridgeOptions): LuaBridge {
    const { fields, flags, budget, onMatchError } = options;
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
      engine.doStringSync(luaPrelude(fields, budget, batchFormat(fields, flags), flags));
    } catch (error) {
      engine.global.close();
      throw error;
    }
    holder.bridge = new LuaBridge(engine, options);
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
      const [phase, index, script, name, when] = line.split("\t");
      return {
        phase: Number(phase) as 4 | 6,
        index: Number(index),
        script: script!,
        name: name!,
        ...(when ? { when: parseWhen(when) } : {}),
      };
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

  /** Sets the flags that keep deny_* from running after allow_* (the component's skip_if). */
  setSkip(flags: readonly string[]): void {
    this.#call("__qts_skip", [flags.join("\n")]);
  }

  /** Starts writing a new batch (records written before and not run are dropped). */
  begin(): void {
    this.#written = 0;
    this.#records = 0;
  }

  /**
   * Appends one record to the batch: `mask` 1 runs its allow_* functions, 2 its deny_* ones,
   * from function `first` of the first stage run; `flags` is the "\n"-framed text of the
   * flags set so far; `values` the field values in prelude order.
   */
  write(
    mask: number,
    now: number,
    first: number,
    flags: string,
    values: readonly LuaValue[],
  ): void {
    let need = 16 + flags.length * 3;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      need += typeof value === "string" ? 4 + value.length * 3 : 8;
    }
    this.#reserve(this.#written + need);
    const view = this.#viewOf();
    let at = this.#scratch + this.#written;
    view.setUint32(at, mask | (first << 2), true);
    view.setFloat64(at + 4, now, true);
    at += 12;
    if (this.#flags) at = this.#writeString(at, flags);
    const numeric = this.#numeric;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (numeric[i]) {
        view.setFloat64(at, typeof value === "number" ? value : 0, true);
        at += 8;
      } else at = this.#writeString(at, typeof value === "string" ? value : "");
    }
    this.#written = at - this.#scratch;
    this.#records++;
  }

  /** Records written since `begin()`. */
  get written(): number {
    return this.#records;
  }

  /**
   * Runs the records written since `begin()` in one call. Returns the dispatcher's lines (or
   * null when nothing happened) and, when a function failed and unwound the batch, where.
   */
  run(): BatchResult {
    const m = this.#m;
    const L = this.#L;
    const length = this.#written;
    const count = this.#records;
    this.#written = 0;
    this.#records = 0;
    if (count === 0) return { out: null, stop: undefined };
    m._lua_checkstack(L, 4);
    m._lua_getglobal(L, this.#name("__qts_batch"));
    m._lua_pushlstring(L, this.#scratch, length);
    m._lua_pushnumber(L, count);
    // The batch text and the one record's values unpacked from it at a time are ours.
    this.#pushed = 2 * length;
    this.#exhausted = false;
    this.#spent = 0;
    this.#unit = -1;
    m._lua_sethook(L, this.#hook, LUA_MASKCOUNT, this.#step);
    const rc = this.#protected(2);
    m._lua_sethook(L, 0, 0, 0);
    if (rc === 0) {
      const out = this.#result();
      return { out, stop: undefined };
    }
    const kind = this.#exhausted ? "budget" : rc === LUA_ERRMEM ? "memory" : "error";
    const message = this.#exhausted ? BUDGET_MESSAGE : (this.#result() ?? `Lua error ${rc}`);
    const taken = this.#call("__qts_take", []) ?? "0\t0\t0\n";
    const nl = taken.indexOf("\n");
    const [k, stage, fn] = taken.slice(0, nl).split("\t").map(Number) as [number, number, number];
    const out = taken.slice(nl + 1);
    return {
      out: out === "" ? null : out,
      stop: { k, stage: stage as 0 | 4 | 6, fn, kind, message: message.slice(0, 300) },
    };
  }

  /** Bytes the Lua state has allocated (live data and garbage not yet collected). */
  get memoryUsed(): number {
    if (this.#wasmAllocator) return this.#m.HEAPF64[this.#memory >>> 3]!;
    return this.#engine.global.getMemoryUsed();
  }

  /** Whether the state holds more than its limit (plus the record's values and some slack). */
  get overLimit(): boolean {
    return this.memoryUsed > this.#memoryLimit + MEMORY_SLACK;
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
    this.#m._free(this.#memory);
    this.#m.removeFunction(this.#hook);
  }

  /** Calls one of the prelude's own functions (no budget; it runs only our code). */
  #call(fn: string, args: readonly LuaValue[]): string | null {
    if (this.#closed) throw new TypeError("Cannot call Lua: the engine is closed");
    const m = this.#m;
    const L = this.#L;
    m._lua_checkstack(L, args.length + 4);
    m._lua_getglobal(L, this.#name(fn));
    for (const value of args) {
      if (typeof value === "string") this.#pushString(value);
      else if (typeof value === "number") m._lua_pushnumber(L, value);
      else m._lua_pushnil(L);
    }
    // Loading a script and the dispatcher's bookkeeping are not held to the limit: a refused
    // allocation there would leave the state half done. Scripts' own code runs in batches.
    this.#pushed = Number.POSITIVE_INFINITY;
    const rc = this.#protected(args.length);
    const out = this.#result();
    if (rc !== 0) {
      return `!0\t${rc === LUA_ERRMEM ? "memory" : "error"}\t${out ?? "Lua error " + rc}\n`;
    }
    return out;
  }

  /** Calls the function below `nargs` pushed arguments, leaving one result; the status code. */
  #protected(nargs: number): number {
    // The limit bounds the whole state, but not our own pushes: they must never fail outside a
    // protected call, which would abort the whole wasm instance, and the request's values are
    // not the script's to account for.
    const pushed = this.#pushed;
    this.#setMax(Number.isFinite(pushed) ? this.#memoryLimit + pushed : undefined);
    try {
      return this.#m._lua_pcallk(this.#L, nargs, 1, 0, 0, 0);
    } finally {
      this.#setMax(undefined);
    }
  }

  /** Sets the allocation limit of the state (undefined: none). */
  #setMax(max: number | undefined): void {
    if (this.#wasmAllocator) this.#m.HEAPF64[(this.#memory >>> 3) + 1] = max ?? Infinity;
    else this.#engine.global.setMemoryMax(max);
  }

  /** The string on top of the stack (or null), with the stack emptied. */
  #result(): string | null {
    const m = this.#m;
    const L = this.#L;
    let out: string | null = null;
    if (m._lua_type(L, -1) === 4 /* LUA_TSTRING */) {
      const ptr = m._lua_tolstring(L, -1, this.#lenPtr);
      const len = m.HEAPU32[this.#lenPtr >>> 2]!;
      out = decoder.decode(m.HEAPU8.subarray(ptr, ptr + len));
    }
    m._lua_settop(L, 0);
    return out;
  }

  /** A DataView of the wasm heap as it is now (it is replaced when the heap grows). */
  #viewOf(): DataView {
    const buffer = this.#m.HEAPU8.buffer;
    if (this.#view.buffer !== buffer) this.#view = new DataView(buffer);
    return this.#view;
  }

  /** Grows the scratch buffer to hold `size` bytes, keeping what is written. */
  #reserve(size: number): void {
    if (size <= this.#scratchSize) return;
    const m = this.#m;
    let next = this.#scratchSize * 2;
    while (next < size) next *= 2;
    const ptr = m._malloc(next);
    m.HEAPU8.copyWithin(ptr, this.#scratch, this.#scratch + this.#written);
    m._free(this.#scratch);
    this.#scratch = ptr;
    this.#scratchSize = next;
  }

  /** Writes a u32 length and the UTF-8 bytes of `value` at `at`; the offset after them. */
  #writeString(at: number, value: string): number {
    const heap = this.#m.HEAPU8;
    const base = at + 4;
    let n = value.length;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c > 127) {
        n = encoder.encodeInto(value, heap.subarray(base, base + value.length * 3)).written;
        break;
      }
      heap[base + i] = c;
    }
    heap[at] = n & 255;
    heap[at + 1] = (n >>> 8) & 255;
    heap[at + 2] = (n >>> 16) & 255;
    heap[at + 3] = n >>> 24;
    return base + n;
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
