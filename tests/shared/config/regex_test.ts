import assert from "node:assert/strict";
import { RE2 } from "re2-wasm";
import { compileRegex } from "../../../src/shared/config/regex.ts";

Deno.test("compileRegex() answers as RE2 does for patterns with a leading .* (run without it)", () => {
  const patterns = [
    ".*(\\.css|\\.js|\\.jpg|\\.webp)$",
    ".*?admin",
    ".*",
    ".*\\.php$",
    "^.*x$", // anchored: kept as written
    ".*(a|b)c.*d",
  ];
  const inputs = [
    "",
    "/static/app.js",
    "/img/a.webp?x",
    "/admin/",
    "/x.php",
    "/x.php\n/y",
    "line1\nline2.css",
    "xx",
    "abcd",
    "acXd\nq",
    "/blog/post",
  ];
  for (const pattern of patterns) {
    const ours = compileRegex(pattern);
    const re2 = new RE2(pattern, "u");
    for (const input of inputs) {
      assert.equal(ours.test(input), re2.test(input), `${pattern} on ${JSON.stringify(input)}`);
    }
  }
});
