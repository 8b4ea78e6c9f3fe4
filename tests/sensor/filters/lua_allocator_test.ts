import assert from "node:assert/strict";
import { luaAllocator } from "../../../src/sensor/filters/_lua_allocator.ts";

/** A module with a real wasm memory and a bump realloc recording frees: the allocator's world. */
function world() {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const frees: number[] = [];
  let next = 1024;
  let alloc: ((ud: number, ptr: number, osize: number, nsize: number) => number) | undefined;
  const module = {
    get HEAPF64() {
      return new Float64Array(memory.buffer);
    },
    addFunction(fn: (...args: number[]) => number) {
      alloc = fn as typeof alloc;
      return 7;
    },
  };
  const index = luaAllocator(module, {
    memory,
    realloc: (_ptr: number, size: number) => {
      const at = next;
      next += size;
      return at;
    },
    free: (ptr: number) => void frees.push(ptr),
  });
  return { module, index, frees, alloc: alloc! };
}

Deno.test("luaAllocator() counts what it hands out and refuses growth past the limit", () => {
  const { module, index, frees, alloc } = world();
  assert.equal(index, 7);
  const ud = 16;
  const stats = () => [module.HEAPF64[ud / 8], module.HEAPF64[ud / 8 + 1]];
  module.HEAPF64[ud / 8] = 100;
  module.HEAPF64[ud / 8 + 1] = Infinity;
  // A new block: osize is Lua's type tag, not a size.
  const a = alloc(ud, 0, 4, 64);
  assert.equal(a, 1024);
  assert.deepEqual(stats(), [164, Infinity]);
  const b = alloc(ud, a, 64, 128);
  assert.ok(b > 0);
  assert.deepEqual(stats(), [228, Infinity]);
  module.HEAPF64[ud / 8 + 1] = 300;
  assert.equal(alloc(ud, b, 128, 256), 0, "growth past the limit is refused");
  assert.deepEqual(stats(), [228, 300]);
  assert.ok(alloc(ud, b, 128, 32) > 0, "shrinking is always allowed");
  assert.deepEqual(stats(), [132, 300]);
  assert.equal(alloc(ud, 5000, 32, 0), 0);
  assert.deepEqual(frees, [5000]);
  assert.deepEqual(stats(), [100, 300]);
  assert.equal(alloc(ud, 0, 3, 0), 0, "freeing nothing is a no-op");
  assert.deepEqual(frees, [5000]);
});
