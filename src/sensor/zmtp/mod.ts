/**
 * ZeroMQ transport: ZMTP 3.1 (rfc.zeromq.org 23/ZMTP, 37/ZMTP) over Deno TCP, interoperable
 * with libzmq. NULL or CURVE mechanism (26/CurveZMQ: `curve` option, Z85 keys); socket types
 * PULL, PUSH, PUB, SUB; each can bind and connect.
 * Needs only `--allow-net=host:port` (no FFI).
 *
 * - Receivers (`PullSocket`, `SubSocket`): `for await (const frames of sock)`, `receive()`,
 *   `tryReceive()`; fair-queued over peers; a full per-peer queue (`hwm`) pauses that peer.
 * - `PushSocket.send(frames)`: round-robin, waits while no peer has room (back-pressure).
 * - `PubSocket.send(frames)`: never blocks; drops for a subscriber at its `hwm`.
 * - Connecters reconnect with exponential backoff; a peer that sends garbage, asks for another
 *   mechanism, fails CURVE authentication or has an incompatible socket type is disconnected
 *   and counted in `stats.disconnected` while the socket goes on.
 * - A received message over `maxFrame`/`maxMessage`/`maxFrames` is skipped as it streams in
 *   (never buffered whole) and counted in `stats.oversized`; the connection stays up.
 * - `close()` releases every listener, connection and timer.
 *
 * @example
 * ```ts
 * import { PullSocket } from "./mod.ts";
 * const pull = new PullSocket({ maxFrame: 1 << 20 });
 * await pull.bind("tcp://127.0.0.1:4100");
 * for await (const frames of pull) console.log(frames.length);
 * ```
 * @module
 */

export { PullSocket } from "./pull_socket.ts";
export { PushSocket } from "./push_socket.ts";
export { PubSocket } from "./pub_socket.ts";
export { SubSocket } from "./sub_socket.ts";
export { type CurveKeyPair, curveKeyPair, curvePublicKey } from "./curve_key_pair.ts";
export { decodeZ85, encodeZ85 } from "./z85.ts";
export {
  type CurveOptions,
  DISCONNECT_REASONS,
  type DisconnectReason,
  type ZmtpLogger,
  type ZmtpOptions,
  type ZmtpStats,
} from "./types.ts";
