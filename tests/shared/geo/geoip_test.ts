import assert from "node:assert/strict";
import { noGeoIp, openGeoIp } from "../../../src/shared/geo/geoip.ts";
import { buildMmdb, type MmdbNetwork, U32 } from "../../../scripts/make-test-mmdb.ts";

const FIXTURES = new URL("../../fixtures/geo/", import.meta.url).pathname;
const COUNTRY_DB = `${FIXTURES}test-country.mmdb`;
const CITY_DB = `${FIXTURES}test-city.mmdb`;
const IPLOCDB_DB = `${FIXTURES}test-iplocdb-city-ipv4.mmdb`;

/** Each fixture network: first and last address inside, the neighbours just outside. */
const EDGES = [
  {
    inside: ["198.51.100.0", "198.51.100.255"],
    outside: ["198.51.99.255", "198.51.101.0"],
    country: "US",
    city: "Chicago",
  },
  {
    inside: ["203.0.113.0", "203.0.113.255"],
    outside: ["203.0.112.255", "203.0.114.0"],
    country: "RU",
    city: "Moscow",
  },
  {
    inside: ["192.0.2.0", "192.0.2.255"],
    outside: ["192.0.1.255", "192.0.3.0"],
    country: "DE",
    city: "Berlin",
  },
  { inside: ["1.2.3.0", "1.2.3.255"], outside: ["1.2.2.255", "1.2.4.0"], country: "AU", city: "" },
  {
    inside: ["2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"],
    outside: ["2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::"],
    country: "NL",
    city: "Amsterdam",
  },
  // Only registered_country in the record: the fallback answers.
  {
    inside: ["198.18.0.0", "198.19.255.255"],
    outside: ["198.17.255.255", "198.20.0.0"],
    country: "JP",
    city: "",
  },
];

async function tempFile(bytes: Uint8Array): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".mmdb" });
  await Deno.writeFile(path, bytes);
  return path;
}

async function rejection(path: string): Promise<Error> {
  try {
    const geo = await openGeoIp(path);
    geo.close();
  } catch (e) {
    assert.ok(e instanceof Error);
    return e;
  }
  assert.fail(`openGeoIp("${path}") opened a bad file`);
}

Deno.test("openGeoIp().country() answers each network's edges and not its neighbours", async () => {
  const geo = await openGeoIp(COUNTRY_DB);
  try {
    for (const edge of EDGES) {
      for (const ip of edge.inside) assert.equal(geo.country(ip), edge.country, ip);
      for (const ip of edge.outside) assert.equal(geo.country(ip), "", ip);
    }
  } finally {
    geo.close();
  }
});

Deno.test("openGeoIp().city() reads city names from a GeoLite2-City shaped database", async () => {
  const geo = await openGeoIp(CITY_DB);
  try {
    for (const edge of EDGES) {
      for (const ip of edge.inside) {
        assert.deepEqual(geo.city(ip), { country: edge.country, city: edge.city }, ip);
      }
      for (const ip of edge.outside) assert.deepEqual(geo.city(ip), { country: "", city: "" }, ip);
    }
  } finally {
    geo.close();
  }
});

Deno.test("openGeoIp().city() on a Country database gives the country and no city", async () => {
  const geo = await openGeoIp(COUNTRY_DB);
  try {
    assert.deepEqual(geo.city("203.0.113.77"), { country: "RU", city: "" });
  } finally {
    geo.close();
  }
});

Deno.test("openGeoIp() looks up IPv4-mapped and 6to4 IPv6 text as the IPv4 address", async () => {
  const geo = await openGeoIp(CITY_DB);
  try {
    assert.deepEqual(geo.city("::ffff:198.51.100.7"), { country: "US", city: "Chicago" });
    assert.equal(geo.country("::FFFF:c633:6407"), "US"); // 198.51.100.7 in hex groups
    assert.equal(geo.country("0:0:0:0:0:ffff:cb00:7101"), "RU"); // 203.0.113.1
    assert.equal(geo.country("[::ffff:192.0.2.1]"), "DE");
    assert.equal(geo.country("::ffff:198.51.101.0"), "");
    // 6to4 reaches the IPv4 subtree only through the tree's own 2002::/16 alias.
    assert.equal(geo.country("2002:c633:6407::1"), "US");
    assert.equal(geo.country("2002:c633:6500::1"), ""); // 198.51.101.0
  } finally {
    geo.close();
  }
});

Deno.test('openGeoIp() answers "" for text that is not an IP address', async () => {
  const geo = await openGeoIp(COUNTRY_DB);
  try {
    const garbage = [
      "",
      " ",
      "junk",
      "198.51.100",
      "198.51.100.7.1",
      "198.51.100.256",
      "198.51.100.7/24",
      "-198.51.100.7",
      "2001:db8::g",
      "2001:db8:::1",
      "2001:db8::1::2",
      "1:2:3:4:5:6:7:8:9",
      ":::",
      "::ffff:198.51.100.300",
      "\u0000",
    ];
    for (const text of garbage) {
      assert.equal(geo.country(text), "", JSON.stringify(text));
      assert.deepEqual(geo.city(text), { country: "", city: "" }, JSON.stringify(text));
    }
  } finally {
    geo.close();
  }
});

Deno.test('openGeoIp() answers "" for private and loopback space even if the database maps it', async () => {
  // A database that (wrongly) places reserved space in a country: the guard must still win.
  const us = { country: { geoname_id: new U32(6252001), iso_code: "US" } };
  const networks: MmdbNetwork[] = [
    "0.0.0.0/8",
    "10.0.0.0/7", // 10/8 and 11/8
    "100.0.0.0/8", // around 100.64.0.0/10
    "127.0.0.0/8",
    "169.0.0.0/8", // around 169.254.0.0/16
    "172.0.0.0/8", // around 172.16.0.0/12
    "192.0.0.0/8", // around 192.168.0.0/16
    "224.0.0.0/3",
    "f000::/4", // around fc00::/7, fe80::/10, ff00::/8
    "::/127",
  ].map((cidr) => ({ cidr, data: us }));
  const path = await tempFile(
    buildMmdb(networks, {
      databaseType: "qts-test",
      description: { en: "reserved space mapped to US" },
      languages: ["en"],
      buildEpoch: 1n,
    }),
  );
  const geo = await openGeoIp(path);
  try {
    assert.equal(geo.country("11.0.0.1"), "US"); // proves the database does answer
    const reserved = [
      "0.1.2.3",
      "10.1.2.3",
      "100.64.0.1",
      "100.127.255.255",
      "127.0.0.1",
      "169.254.10.20",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "224.0.0.1",
      "255.255.255.255",
      "::ffff:10.0.0.1",
      "::ffff:127.0.0.1",
      "fd12:3456::1",
      "fc00::1",
      "fe80::1",
      "fe80::1%eth0",
      "ff02::1",
      "::1",
      "::",
    ];
    for (const ip of reserved) assert.equal(geo.country(ip), "", ip);
    // Just outside the guarded ranges the database answers again.
    const outside = [
      "11.0.0.0",
      "100.63.255.255",
      "100.128.0.0",
      "169.253.255.255",
      "169.255.0.0",
      "172.15.255.255",
      "172.32.0.0",
      "192.167.255.255",
      "192.169.0.0",
      "fbff:ffff::1",
      "fec0::1",
    ];
    for (const ip of outside) assert.equal(geo.country(ip), "US", ip);
  } finally {
    geo.close();
    await Deno.remove(path);
  }
});

Deno.test("openGeoIp() reads the ip-location-db record shape from an IPv4-only database", async () => {
  const geo = await openGeoIp(IPLOCDB_DB);
  try {
    assert.deepEqual(geo.city("198.51.100.7"), { country: "US", city: "Chicago" });
    assert.deepEqual(geo.city("1.2.3.4"), { country: "AU", city: "" });
    assert.equal(geo.country("203.0.113.255"), "RU");
    assert.equal(geo.country("203.0.114.0"), "");
    assert.equal(geo.country("::ffff:192.0.2.9"), "DE");
    // DB-IP's "ZZ" marks reserved space: not a country.
    assert.equal(geo.country("192.0.0.5"), "");
    // A 32-level tree cannot answer for 128-bit addresses; it must not guess.
    assert.equal(geo.country("2001:db8::1"), "");
    assert.equal(geo.country("c633:6407::"), "");
  } finally {
    geo.close();
  }
});

Deno.test("openGeoIp() reads 32-bit tree records", async () => {
  const path = await tempFile(
    buildMmdb([{ cidr: "203.0.113.128/25", data: { country_code: "ru", city: "Kazan" } }], {
      databaseType: "qts-test",
      description: {},
      languages: [],
      recordSize: 32,
      buildEpoch: 1n,
    }),
  );
  const geo = await openGeoIp(path);
  try {
    assert.deepEqual(geo.city("203.0.113.200"), { country: "RU", city: "Kazan" });
    assert.equal(geo.country("203.0.113.127"), "");
  } finally {
    geo.close();
    await Deno.remove(path);
  }
});

Deno.test("openGeoIp() answers the same from its cache, also when the cache is tiny", async () => {
  const geo = await openGeoIp(CITY_DB, { cacheSize: 1 });
  try {
    for (let round = 0; round < 3; round++) {
      assert.deepEqual(geo.city("198.51.100.1"), { country: "US", city: "Chicago" });
      assert.deepEqual(geo.city("2001:db8::1"), { country: "NL", city: "Amsterdam" });
      assert.equal(geo.country("198.51.100.1"), "US");
      assert.equal(geo.country("198.51.100.1"), "US");
    }
    // A caller editing the result must not change what the cache answers next.
    const first = geo.city("203.0.113.1");
    first.city = "edited";
    assert.equal(geo.city("203.0.113.1").city, "Moscow");
  } finally {
    geo.close();
  }
});

Deno.test('openGeoIp().close() makes later lookups answer ""', async () => {
  const geo = await openGeoIp(COUNTRY_DB);
  assert.equal(geo.country("198.51.100.1"), "US");
  geo.close();
  assert.equal(geo.country("198.51.100.1"), "");
  assert.deepEqual(geo.city("198.51.100.1"), { country: "", city: "" });
  geo.close(); // twice is harmless
});

Deno.test('noGeoIp() answers "" for everything', () => {
  const geo = noGeoIp();
  assert.equal(geo.country("198.51.100.1"), "");
  assert.deepEqual(geo.city("2001:db8::1"), { country: "", city: "" });
  geo.close();
});

Deno.test("openGeoIp() rejects a missing file with an Error naming the path", async () => {
  const path = `${FIXTURES}no-such-database.mmdb`;
  const e = await rejection(path);
  assert.match(e.message, /no-such-database\.mmdb/);
  assert.match(e.message, /no such file/);
  assert.ok(e.cause instanceof Deno.errors.NotFound);
});

Deno.test("openGeoIp() rejects a directory with an Error naming the path", async () => {
  const e = await rejection(FIXTURES);
  assert.ok(e.message.includes(FIXTURES), e.message);
});

Deno.test("openGeoIp() rejects truncated and foreign files with a SyntaxError naming the path", async () => {
  const bytes = await Deno.readFile(COUNTRY_DB);
  const text = new TextDecoder("latin1").decode(bytes);
  const markerAt = text.lastIndexOf("\xAB\xCD\xEFMaxMind.com");
  assert.ok(markerAt > 0);
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ["empty", new Uint8Array(0), /the file is empty/],
    ["first half", bytes.slice(0, bytes.length >> 1), /no metadata marker.*truncated/],
    ["a text file", new TextEncoder().encode("GeoLite2-Country\n"), /no metadata marker/],
    ["last byte cut", bytes.slice(0, bytes.length - 1), /metadata .* cannot be decoded, truncated/],
    ["metadata cut", bytes.slice(0, markerAt + 40), /metadata .* cannot be decoded, truncated/],
    [
      "search tree cut",
      new Uint8Array([...bytes.slice(0, 600), ...bytes.slice(markerAt)]),
      /search tree of \d+ nodes needs \d+ bytes.*\(truncated\?\)/,
    ],
  ];
  for (const [what, content, expected] of cases) {
    const path = await tempFile(content);
    try {
      const e = await rejection(path);
      assert.ok(e instanceof SyntaxError, `${what}: ${e}`);
      assert.ok(e.message.includes(path), `${what}: ${e.message}`);
      assert.match(e.message, expected, what);
    } finally {
      await Deno.remove(path);
    }
  }
});

Deno.test("openGeoIp() rejects a file whose data section separator is not zero", async () => {
  const bytes = await Deno.readFile(COUNTRY_DB);
  // node_count 229 with 6-byte nodes: the separator starts at 229 * 6.
  const treeSize = 229 * 6;
  assert.deepEqual([...bytes.slice(treeSize, treeSize + 16)], new Array(16).fill(0));
  const corrupt = bytes.slice();
  corrupt[treeSize + 3] = 0x5a;
  const path = await tempFile(corrupt);
  try {
    const e = await rejection(path);
    assert.ok(e instanceof SyntaxError);
    assert.match(e.message, /16 zero bytes after the search tree/);
  } finally {
    await Deno.remove(path);
  }
});
