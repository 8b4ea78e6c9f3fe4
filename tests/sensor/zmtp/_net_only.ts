/**
 * Run by permissions_test.ts under `--allow-net=127.0.0.1:<port>` and nothing else: binds a
 * PULL, connects a PUSH and a SUB/PUB pair on that one port pair, prints "ok".
 */
import { PullSocket, PushSocket } from "../../../src/sensor/zmtp/mod.ts";

const endpoint = `tcp://127.0.0.1:${Deno.args[0]}`;
const pull = new PullSocket();
await pull.bind(endpoint);
const push = new PushSocket();
push.connect(endpoint);
await push.send([new TextEncoder().encode("ok")]);
const message = await pull.receive();
await push.close();
await pull.close();
console.log(new TextDecoder().decode(message![0]));
