import assert from "node:assert/strict";
import { join } from "node:path";
import { bouncerCommand } from "../../../src/commands/bouncer_command.ts";
import { Bouncer } from "../../../src/sensor/bouncer/bouncer.ts";
import { curveKeyPair, PubSocket } from "../../../src/sensor/zmtp/mod.ts";
import { BouncerWaiter, command, MemoryNft, publish } from "./_bouncer_support.ts";

/** Runs `bouncerCommand(args)` with console output captured. */
async function run(args: string[]): Promise<{ code: number; out: string }> {
  const { log, error } = console;
  const lines: string[] = [];
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  console.error = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    return { code: await bouncerCommand(args), out: lines.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("bouncerCommand() --help documents the CURVE options", async () => {
  const { code, out } = await run(["--help"]);
  assert.equal(code, 0);
  assert.match(out, /--curve-secret-key-file <file>/);
  assert.match(out, /--curve-server-key <key>/);
  assert.match(out, /--curve-server-key-file <file>/);
  assert.match(out, /curve_authorized_keys_file/);
});

Deno.test("bouncerCommand() refuses CURVE options that are incomplete or not keys (exit 2)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bouncer = curveKeyPair();
    const sensor = curveKeyPair();
    const secret = join(dir, "bouncer.key");
    const server = join(dir, "sensor.pub");
    const bad = join(dir, "bad.key");
    await Deno.writeTextFile(secret, bouncer.secretKey + "\n", { mode: 0o600 });
    await Deno.writeTextFile(server, sensor.publicKey + "\n");
    await Deno.writeTextFile(bad, "not a key\n");
    const cases: [string[], RegExp][] = [
      [
        ["--curve-secret-key-file", secret],
        /--curve-secret-key-file needs --curve-server-key or --curve-server-key-file/,
      ],
      [
        [`--curve-server-key=${sensor.publicKey}`],
        /--curve-server-key needs --curve-secret-key-file/,
      ],
      [
        ["--curve-server-key-file", server],
        /--curve-server-key-file needs --curve-secret-key-file/,
      ],
      [
        [
          "--curve-secret-key-file",
          secret,
          `--curve-server-key=${sensor.publicKey}`,
          "--curve-server-key-file",
          server,
        ],
        /--curve-server-key or --curve-server-key-file, not both/,
      ],
      [
        ["--curve-secret-key-file", join(dir, "missing.key"), "--curve-server-key-file", server],
        /cannot read --curve-secret-key-file ".*missing\.key"/,
      ],
      [
        ["--curve-secret-key-file", bad, `--curve-server-key=${sensor.publicKey}`],
        /--curve-secret-key-file ".*bad\.key" does not hold a CURVE secret key/,
      ],
      [
        ["--curve-secret-key-file", secret, "--curve-server-key", "tooshort"],
        /--curve-server-key is not a CURVE public key: expected 40 Z85 characters/,
      ],
      [
        // 40 characters, but "~" is outside the Z85 alphabet.
        ["--curve-secret-key-file", secret, "--curve-server-key", "~".repeat(40)],
        /--curve-server-key is not a CURVE public key/,
      ],
      [
        // 40 Z85 characters whose groups exceed 32 bits do not decode to 32 bytes.
        ["--curve-secret-key-file", secret, "--curve-server-key", "#".repeat(40)],
        /--curve-server-key is not a CURVE public key/,
      ],
      [
        ["--curve-secret-key-file", secret, "--curve-server-key-file", bad],
        /--curve-server-key-file ".*bad\.key" is not a CURVE public key/,
      ],
      [
        ["--curve-secret-key-file", secret, `--curve-server-key=${bouncer.publicKey}`],
        /is this bouncer's own public key/,
      ],
    ];
    for (const [args, message] of cases) {
      const { code, out } = await run(args);
      assert.equal(code, 2, `exit code of ${args.join(" ")}`);
      assert.match(out, message, `message of ${args.join(" ")}`);
      assert.match(out, /^qts bouncer: /);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("new Bouncer() throws TypeError for CURVE keys that are not Z85 keys", () => {
  const nft = new MemoryNft();
  const sensor = curveKeyPair();
  assert.throws(
    () =>
      new Bouncer(nft, {
        from: "tcp://127.0.0.1:1",
        api: "",
        curve: { secretKey: "x", serverKey: sensor.publicKey },
      }),
    TypeError,
  );
  assert.throws(
    () =>
      new Bouncer(nft, {
        from: "tcp://127.0.0.1:1",
        api: "",
        curve: { secretKey: curveKeyPair().secretKey, serverKey: "x" },
      }),
    /serverKey/,
  );
});

Deno.test({
  name:
    "Bouncer with curve reads a CURVE PUB that authorises its key; a NULL or unknown bouncer is refused and says so",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const sensor = curveKeyPair();
    const ours = curveKeyPair();
    const stranger = curveKeyPair();
    const pub = new PubSocket({ curve: { ...sensor, authorizedKeys: [ours.publicKey] } });
    const endpoint = await pub.bind("tcp://127.0.0.1:0");
    const make = (curve?: { secretKey: string; serverKey: string }) => {
      const nft = new MemoryNft();
      const waiter = new BouncerWaiter();
      const bouncer = new Bouncer(nft, {
        from: endpoint,
        api: "",
        batchMs: 10,
        pollMs: 20,
        log: waiter.log,
        ...(curve ? { curve } : {}),
      });
      waiter.watch(bouncer);
      return { nft, waiter, bouncer };
    };
    const good = make({ secretKey: ours.secretKey, serverKey: sensor.publicKey });
    const plain = make();
    const unknown = make({ secretKey: stranger.secretKey, serverKey: sensor.publicKey });
    try {
      for (const b of [good, plain, unknown]) await b.bouncer.start();
      for (const [name, b] of [["NULL", plain], ["unknown key", unknown]] as const) {
        await b.waiter.until(
          `the ${name} bouncer's refusal log`,
          () => b.waiter.logs.some((l) => l.msg.startsWith("the sensor's PUB refused")),
        );
      }
      await good.waiter.until("the CURVE subscription", () => pub.subscribers >= 1);
      assert.equal(pub.subscribers, 1, "only the authorised bouncer subscribes");
      publish(pub, command("add", "203.0.113.9"));
      await good.waiter.until("the add", () => good.nft.stats.added === 1);
      assert.deepEqual([...(await good.nft.members()).keys()], ["203.0.113.9"]);
      for (const b of [plain, unknown]) {
        assert.equal(b.bouncer.stats.commands, 0);
        assert.equal(b.nft.stats.added, 0);
      }
      const refusal = (b: typeof plain) =>
        b.waiter.logs.filter((l) => l.msg.startsWith("the sensor's PUB refused"));
      assert.equal(refusal(plain).length, 1, "logged once, not per reconnect");
      assert.match(String(refusal(plain)[0]!.fields.hint), /--curve-secret-key-file/);
      assert.match(String(refusal(unknown)[0]!.fields.hint), /curve_authorized_keys_file/);
      assert.equal(refusal(good).length, 0);
    } finally {
      for (const b of [good, plain, unknown]) await b.bouncer.close();
      await pub.close();
    }
  },
});
