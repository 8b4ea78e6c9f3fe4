/**
 * A Lua allocator (`lua_Alloc`) written in wasm, for the memory limit of a Lua state without a
 * JS call per allocation. wasmoon's own limit is a JS function the Lua build calls through its
 * function table for every allocation and free (strings of every record: several a request);
 * this one does the same accounting in wasm, calling the Lua module's realloc/free directly.
 *
 * Its `ud` points at two doubles in the module's memory: bytes in use, and the limit (Infinity
 * for none). Like wasmoon's, it refuses growth past the limit (Lua then collects and retries,
 * or raises "not enough memory") and counts what it hands out.
 */

/** The wasm module, hand-assembled (no toolchain in the build): see the text format below. */
// (func $alloc (param $ud i32) (param $ptr i32) (param $osize i32) (param $nsize i32)
//   (result i32) (local $r i32) (local $end f64)
//   (if (i32.eqz (local.get $nsize)) (then
//     (if (local.get $ptr) (then
//       (f64.store (local.get $ud) (f64.sub (f64.load (local.get $ud))
//         (f64.convert_i32_u (local.get $osize))))
//       (call $free (local.get $ptr))))
//     (return (i32.const 0))))
//   ;; a new block's osize is its type tag, not a size
//   (local.set $end (f64.add (f64.load (local.get $ud)) (f64.sub
//     (f64.convert_i32_u (local.get $nsize))
//     (if (result f64) (local.get $ptr) (then (f64.convert_i32_u (local.get $osize)))
//       (else (f64.const 0))))))
//   (if (i32.gt_u (local.get $nsize) (local.get $osize)) (then
//     (if (f64.gt (local.get $end) (f64.load offset=8 (local.get $ud))) (then
//       (return (i32.const 0))))))
//   (local.set $r (call $realloc (local.get $ptr) (local.get $nsize)))
//   (if (local.get $r) (then (f64.store (local.get $ud) (local.get $end))))
//   (local.get $r))
// deno-fmt-ignore
const BODY = [
  0x02, 0x01, 0x7f, 0x01, 0x7c, // locals: 1 i32, 1 f64
  0x20, 0x03, 0x45, 0x04, 0x40, // if nsize == 0
  0x20, 0x01, 0x04, 0x40, //   if ptr: used -= osize, free(ptr)
  0x20, 0x00, 0x20, 0x00, 0x2b, 0x03, 0x00, 0x20, 0x02, 0xb8, 0xa1, 0x39, 0x03, 0x00,
  0x20, 0x01, 0x10, 0x01,
  0x0b,
  0x41, 0x00, 0x0f, //   return 0
  0x0b,
  0x20, 0x00, 0x2b, 0x03, 0x00, // end = used + (nsize - (ptr ? osize : 0))
  0x20, 0x03, 0xb8,
  0x20, 0x01, 0x04, 0x7c, 0x20, 0x02, 0xb8, 0x05, 0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b,
  0xa1, 0xa0, 0x21, 0x05,
  0x20, 0x03, 0x20, 0x02, 0x4b, 0x04, 0x40, // if nsize > osize and end > max: return 0
  0x20, 0x05, 0x20, 0x00, 0x2b, 0x03, 0x08, 0x64, 0x04, 0x40,
  0x41, 0x00, 0x0f, 0x0b,
  0x0b,
  0x20, 0x01, 0x20, 0x03, 0x10, 0x00, 0x22, 0x04, // r = realloc(ptr, nsize)
  0x04, 0x40, 0x20, 0x00, 0x20, 0x05, 0x39, 0x03, 0x00, 0x0b, // if r: used = end
  0x20, 0x04,
  0x0b,
];

function section(id: number, bytes: number[]): number[] {
  return [id, ...leb(bytes.length), ...bytes];
}

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function name(text: string): number[] {
  return [text.length, ...Array.from(text, (c) => c.charCodeAt(0))];
}

// deno-fmt-ignore
const MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, [
    0x03,
    0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x01, 0x7f, // alloc: (i32 i32 i32 i32) -> i32
    0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, // realloc: (i32 i32) -> i32
    0x60, 0x01, 0x7f, 0x00, // free: (i32) -> ()
  ]),
  ...section(2, [
    0x03,
    ...name("m"), ...name("realloc"), 0x00, 0x01,
    ...name("m"), ...name("free"), 0x00, 0x02,
    ...name("m"), ...name("memory"), 0x02, 0x00, 0x00, // memory, at least 0 pages
  ]),
  ...section(3, [0x01, 0x00]),
  ...section(7, [0x01, ...name("alloc"), 0x00, 0x02]),
  ...section(10, [0x01, ...leb(BODY.length), ...BODY]),
]);

/** What the allocator needs of the Lua module: its memory, allocator and function table. */
export interface AllocatorModule {
  HEAPF64: Float64Array;
  addFunction(fn: (...args: number[]) => number, signature: string): number;
}

/** The Lua module's own exports the allocator calls. */
export interface AllocatorExports {
  memory: WebAssembly.Memory;
  realloc: (ptr: number, size: number) => number;
  free: (ptr: number) => void;
}

const tables = new WeakMap<object, number>();

/**
 * The function-table index of the wasm allocator for the Lua module `module` (made once per
 * module), to pass to `lua_setallocf` with a `ud` of two doubles: bytes used, limit.
 */
export function luaAllocator(module: AllocatorModule, exports: AllocatorExports): number {
  let index = tables.get(module);
  if (index === undefined) {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(MODULE), {
      m: { memory: exports.memory, realloc: exports.realloc, free: exports.free },
    });
    index = module.addFunction(
      instance.exports.alloc as (...args: number[]) => number,
      "iiiii",
    );
    tables.set(module, index);
  }
  return index;
}
