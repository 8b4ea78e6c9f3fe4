import { type LuaEngine, LuaFactory } from "wasmoon";
import { compileRegex } from "../config/regex.ts";
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
}

let factory: LuaFactory | undefined;
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
 */
export class LuaBridge {
  readonly #engine: LuaEngine;
  readonly #m: RawModule;
  readonly #L: number;
  readonly #memoryLimit: number;
  readonly #names = new Map<string, number>();
  #scratch: number;
  #scratchSize = 4096;
  readonly #lenPtr: number;
  #closed = false;

  private constructor(engine: LuaEngine, memoryLimit: number) {
    this.#engine = engine;
    this.#m = (engine.global.lua as unknown as { module: RawModule }).module;
    this.#L = engine.global.address;
    this.#memoryLimit = memoryLimit;
    this.#scratch = this.#m._malloc(this.#scratchSize);
    this.#lenPtr = this.#m._malloc(8);
  }

  /** Starts a Lua state with the sandbox prelude for `fields`. */
  static async create(
    fields: readonly string[],
    budget: number,
    memoryLimit: number,
    onMatchError: (error: unknown) => void,
  ): Promise<LuaBridge> {
    factory ??= new LuaFactory();
    const engine = await factory.createEngine({ traceAllocations: true, injectObjects: false });
    engine.global.set("__qts_match", (pattern: string, input: string) => {
      try {
        return compileRegex(pattern).test(input);
      } catch (error) {
        onMatchError(error);
        return false;
      }
    });
    engine.doStringSync(luaPrelude(fields, budget));
    return new LuaBridge(engine, memoryLimit);
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

  /** Skips a function until event time `untilMs`. */
  disable(phase: 4 | 6, index: number, untilMs: number): void {
    this.#call("__qts_disable", [phase, index, untilMs]);
  }

  /**
   * Runs one phase. `values` are the field values in prelude order, or null when they are
   * those of the previous call. Returns the dispatcher's result text or null.
   */
  phase(
    phase: 4 | 6,
    now: number,
    flags: string,
    values: readonly LuaValue[] | null,
  ): string | null {
    const head: LuaValue[] = [phase, now, flags, values === null ? 0 : values.length];
    return this.#call("__qts_phase", values === null ? head : head.concat(values));
  }

  /** Bytes the Lua state has allocated. */
  get memoryUsed(): number {
    return this.#engine.global.getMemoryUsed();
  }

  /** Frees the Lua state. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#m._free(this.#scratch);
    this.#m._free(this.#lenPtr);
    this.#engine.global.close();
  }

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
    // The limit applies to the scripts only: our own pushes above must never fail outside a
    // protected call, which would abort the whole wasm instance.
    const global = this.#engine.global;
    global.setMemoryMax(global.getMemoryUsed() + this.#memoryLimit);
    let rc: number;
    try {
      rc = m._lua_pcallk(L, args.length, 1, 0, 0, 0);
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
    if (rc !== 0) return `!0\terror\t${out ?? "Lua error " + rc}\n`;
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
