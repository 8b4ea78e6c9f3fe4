/**
 * Options, counters and the logger hook shared by every ZMTP socket.
 * @module
 */

/**
 * Structured log hook: an event name and its fields (always `socket`, mostly `peer`).
 * Default: silent. Events: `listen`, `accept`, `accept_failed`, `connect`, `connect_failed`
 * (with `retryMs`), `reconnect`, `ready` (`socketType`, `version`), `refuse`, `disconnect`
 * (`reason`, `detail`), `subscribe`/`cancel` (`prefix`), `pause` (a receiver's queue for a
 * peer is full), `ping`, `pong`, `oversized` (a message dropped for a limit: `bytes`, `limit`),
 * `authorized` (a CURVE client key accepted: `key`). Rate-limit it yourself if you log to a file.
 */
export type ZmtpLogger = (event: string, fields: Record<string, unknown>) => void;

/** Why a connection ended; counted in {@linkcode ZmtpStats.disconnected}. */
export type DisconnectReason =
  /** The peer's first bytes were not a ZMTP 3.x greeting (incl. ZMTP 1.0/2.0 peers). */
  | "bad_greeting"
  /** The peer asked for another security mechanism than ours (NULL or CURVE). */
  | "bad_mechanism"
  /**
   * CURVE: the client's key is not authorised, or a handshake box does not open (the client
   * uses another server key, or the server is not the one `serverKey` names).
   */
  | "auth_failed"
  /** The peer's Socket-Type cannot talk to ours (e.g. PUSH to PUB). */
  | "incompatible_socket"
  /** A command frame over the limit, or a frame length past 2^53 (data frames are skipped). */
  | "frame_too_large"
  /** Anything else malformed: reserved flag bits, bad READY, data where a command must be… */
  | "protocol_error"
  /** The peer sent an ERROR command. */
  | "peer_error"
  /** Greeting and READY did not complete within `handshakeTimeout`. */
  | "handshake_timeout"
  /** No traffic within `heartbeatTimeout` while heartbeats were on. */
  | "heartbeat_timeout"
  /** The peer closed the TCP connection. */
  | "peer_closed"
  /** The TCP connection failed (reset, write error). */
  | "io_error"
  /** We closed it: `close()` on the socket. */
  | "closed";

/** Every disconnect reason, for exporting counters with zeros. */
export const DISCONNECT_REASONS: readonly DisconnectReason[] = [
  "bad_greeting",
  "bad_mechanism",
  "auth_failed",
  "incompatible_socket",
  "frame_too_large",
  "protocol_error",
  "peer_error",
  "handshake_timeout",
  "heartbeat_timeout",
  "peer_closed",
  "io_error",
  "closed",
];

/** Counters of one socket; the sensor exports them on /metrics. Read-only for callers. */
export interface ZmtpStats {
  /** TCP connections accepted on bound endpoints. */
  accepted: number;
  /** TCP connections made by connect(), including reconnects. */
  connected: number;
  /** Failed connection attempts (refused, unreachable); each is followed by a backoff. */
  connectFailed: number;
  /** Connections that completed greeting and READY. */
  handshakes: number;
  /** Connections ended, by reason. */
  disconnected: Record<DisconnectReason, number>;
  /** Messages dropped because a peer's queue was at its high-water mark (PUB). */
  droppedHwm: number;
  /**
   * Received messages dropped whole for a limit (`maxFrame`, `maxMessage`, `maxFrames`); the
   * connection stays up and the messages after them arrive.
   */
  oversized: number;
  /** Messages received (after SUB filtering) and sent (per peer copy for PUB). */
  messagesIn: number;
  messagesOut: number;
  /** Payload bytes of those messages (frame bodies, without ZMTP headers). */
  bytesIn: number;
  bytesOut: number;
}

/**
 * CURVE security (rfc.zeromq.org 26/CurveZMQ, 25/ZMTP-CURVE), keys in Z85 (40 characters) as
 * libzmq's `zmq_curve_keypair()` makes them. Without `serverKey` the socket is a CURVE server
 * (as libzmq's `ZMQ_CURVE_SERVER`) and accepts only the clients in `authorizedKeys`; with it, a
 * CURVE client of that server. Every connection of the socket then speaks CURVE only.
 */
export interface CurveOptions {
  /** Our long-term secret key. */
  secretKey: string;
  /** Our long-term public key (checked against `secretKey`). */
  publicKey: string;
  /** Client only: the server's public key. */
  serverKey?: string;
  /** Server only, required: client public keys to accept; others get ERROR "400". */
  authorizedKeys?: Iterable<string>;
}

/** Options of every ZMTP socket. */
export interface ZmtpOptions {
  /**
   * Largest frame body accepted from a peer. A message with a longer frame is skipped (read
   * and thrown away as it streams, never buffered) and counted in `stats.oversized`; the
   * connection stays up. Default 16 MiB.
   */
  maxFrame?: number;
  /**
   * Largest total of frame bodies in one received message; a longer message is dropped like
   * one with an oversized frame. Bounds memory per message. Default 4 × `maxFrame`.
   */
  maxMessage?: number;
  /** Largest number of frames in one received message; more drops it. Default 1024. */
  maxFrames?: number;
  /** CURVE keys; without them the socket speaks the NULL mechanism (no security). */
  curve?: CurveOptions;
  /**
   * High-water mark in messages, per peer and direction (as libzmq's SNDHWM/RCVHWM).
   * Receivers stop reading a peer whose queue is full; PUB drops for it; PUSH waits.
   * Default 10000.
   */
  hwm?: number;
  /** First reconnect delay in ms; doubles per failure up to `reconnectMax`. Default 100. */
  reconnect?: number;
  /** Largest reconnect delay in ms. Default 5000. */
  reconnectMax?: number;
  /** Greeting plus READY must complete within this many ms. Default 10000. */
  handshakeTimeout?: number;
  /** Send PING this often (ms) on idle connections; 0 turns heartbeats off. Default 0. */
  heartbeatInterval?: number;
  /** With heartbeats on: disconnect a peer silent this long (ms). Default 3 × interval. */
  heartbeatTimeout?: number;
  /** On close(), wait this long (ms) for queued outgoing messages to be written. Default 0. */
  linger?: number;
  /** Structured log hook. Default: silent. */
  logger?: ZmtpLogger;
}
