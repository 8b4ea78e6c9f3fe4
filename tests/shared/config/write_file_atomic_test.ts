import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFileAtomic, type WriteFs } from "../../../src/shared/config/write_file_atomic.ts";

/** `Deno`, with the first write, sync or rename failing as a full disk does. */
function failing(step: "write" | "sync" | "rename"): WriteFs {
  const enospc = () => new Error("No space left on device (os error 28)");
  return {
    mkdir: (path, options) => Deno.mkdir(path, options),
    async open(path, options) {
      const file = await Deno.open(path, options);
      return {
        async write(bytes) {
          if (step !== "write") return await file.write(bytes);
          await file.write(bytes.subarray(0, bytes.length >> 1));
          throw enospc();
        },
        async sync() {
          if (step === "sync") throw enospc();
          await file.sync();
        },
        truncate: (length) => file.truncate(length),
        close: () => file.close(),
      };
    },
    async rename(from, to) {
      if (step === "rename") throw enospc();
      await Deno.rename(from, to);
    },
    remove: (path) => Deno.remove(path),
  };
}

Deno.test("writeFileAtomic() replaces the file and leaves nothing else", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "sub", "state.json");
    await writeFileAtomic(path, "one");
    await writeFileAtomic(path, new TextEncoder().encode("two"));
    assert.equal(await Deno.readTextFile(path), "two");
    assert.deepEqual([...Deno.readDirSync(join(dir, "sub"))].map((e) => e.name), ["state.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const step of ["write", "sync", "rename"] as const) {
  Deno.test(`writeFileAtomic() removes its temp file when the ${step} fails, and rethrows`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const path = join(dir, "state.json");
      await Deno.writeTextFile(path, "old");
      await assert.rejects(
        writeFileAtomic(path, "x".repeat(100_000), { fs: failing(step) }),
        /No space left on device/,
      );
      assert.equal(await Deno.readTextFile(path), "old", "the old content stays");
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["state.json"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
