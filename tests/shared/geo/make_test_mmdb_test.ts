import assert from "node:assert/strict";
import { buildMmdb, makeTestDatabases, U16 } from "../../../scripts/make-test-mmdb.ts";

const FIXTURES = new URL("../../fixtures/geo/", import.meta.url).pathname;
const SCRIPT = new URL("../../../scripts/make-test-mmdb.ts", import.meta.url).pathname;
const NAMES = ["test-city.mmdb", "test-country.mmdb", "test-iplocdb-city-ipv4.mmdb"];

function hasMmdblookup(): boolean {
  try {
    return new Deno.Command("mmdblookup", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}
const MMDBLOOKUP = hasMmdblookup();
if (!MMDBLOOKUP) {
  console.warn(
    "skipping the libmaxminddb cross-check: mmdblookup not found (apt-get install mmdb-bin)",
  );
}

Deno.test("makeTestDatabases() reproduces the committed fixtures byte for byte", async () => {
  const built = makeTestDatabases();
  assert.deepEqual([...built.keys()].sort(), NAMES);
  for (const [name, bytes] of built) {
    const committed = await Deno.readFile(`${FIXTURES}${name}`);
    assert.ok(bytes.length === committed.length && bytes.every((b, i) => b === committed[i]), name);
  }
});

Deno.test("make-test-mmdb.ts run as a script writes the same bytes into another directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", `--allow-write=${dir}`, `--allow-read=${dir}`, SCRIPT, dir],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    const listed = [];
    for await (const entry of Deno.readDir(dir)) listed.push(entry.name);
    assert.deepEqual(listed.sort(), NAMES);
    for (const name of NAMES) {
      const [fresh, committed] = await Promise.all([
        Deno.readFile(`${dir}/${name}`),
        Deno.readFile(`${FIXTURES}${name}`),
      ]);
      assert.deepEqual(fresh, committed, name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("makeTestDatabases() stores each repeated string and map once, pointing at it", () => {
  const country = makeTestDatabases().get("test-country.mmdb")!;
  const text = new TextDecoder().decode(country);
  // "Europe" is the continent of three networks; "iso_code" a key in every record.
  assert.equal(text.split("Europe").length - 1, 1);
  assert.equal(text.split("iso_code").length - 1, 1);
  assert.equal(text.split("United States").length - 1, 1);
});

Deno.test("buildMmdb() refuses IPv6 networks in an IPv4 tree and malformed networks", () => {
  const options = { databaseType: "t", description: {}, languages: [], buildEpoch: 0n };
  const data = { x: "y" };
  assert.throws(
    () => buildMmdb([{ cidr: "2001:db8::/32", data }], { ...options, ipVersion: 4 }),
    RangeError,
  );
  assert.throws(() => buildMmdb([{ cidr: "192.0.2.0", data }], options), SyntaxError);
  assert.throws(() => buildMmdb([{ cidr: "192.0.2.0/33", data }], options), RangeError);
  assert.throws(() => buildMmdb([{ cidr: "192.0.2/24", data }], options), SyntaxError);
  assert.throws(() => buildMmdb([{ cidr: "2001:db8::zz/32", data }], options), SyntaxError);
  assert.throws(() => buildMmdb([{ cidr: "::/0", data }], options), RangeError);
  assert.throws(
    () => buildMmdb([{ cidr: "192.0.2.0/24", data: { n: new U16(70000) } }], options),
    RangeError,
  );
});

Deno.test({
  name: "make-test-mmdb.ts output is read alike by libmaxminddb's mmdblookup",
  ignore: !MMDBLOOKUP,
  fn: async () => {
    const lookup = async (file: string, ip: string, ...path: string[]) => {
      const out = await new Deno.Command("mmdblookup", {
        args: ["--file", `${FIXTURES}${file}`, "--ip", ip, ...path],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      return out.success ? stdout.trim() : `error: ${new TextDecoder().decode(out.stderr).trim()}`;
    };
    assert.equal(
      await lookup("test-country.mmdb", "198.51.100.255", "country", "iso_code"),
      '"US" <utf8_string>',
    );
    assert.equal(
      await lookup("test-country.mmdb", "::ffff:203.0.113.1", "country", "iso_code"),
      '"RU" <utf8_string>',
    );
    assert.equal(
      await lookup("test-country.mmdb", "198.19.0.1", "registered_country", "iso_code"),
      '"JP" <utf8_string>',
    );
    assert.equal(
      await lookup("test-city.mmdb", "2001:db8::1", "city", "names", "ru"),
      '"Амстердам" <utf8_string>',
    );
    assert.equal(
      await lookup("test-city.mmdb", "192.0.2.0", "location", "accuracy_radius"),
      "20 <uint16>",
    );
    assert.equal(
      await lookup("test-city.mmdb", "192.0.2.0", "location", "latitude"),
      "52.524400 <double>",
    );
    assert.equal(
      await lookup("test-iplocdb-city-ipv4.mmdb", "1.2.3.4", "country_code"),
      '"AU" <utf8_string>',
    );
    assert.match(await lookup("test-city.mmdb", "192.0.3.0"), /Could not find an entry/);
    const meta = await new Deno.Command("mmdblookup", {
      args: ["--file", `${FIXTURES}test-city.mmdb`, "--ip", "192.0.2.1", "--verbose"],
      stdout: "piped",
    }).output();
    const verbose = new TextDecoder().decode(meta.stdout);
    assert.match(verbose, /Binary format:\s+2\.0/);
    assert.match(verbose, /Build epoch:\s+1700000000 /);
    assert.match(verbose, /Type:\s+GeoLite2-City\n/);
    assert.match(verbose, /Record size:\s+24 bits/);
    assert.match(verbose, /IP version:\s+IPv6/);
    assert.match(verbose, /Languages:\s+en ru\n/);
  },
});
