/**
 * CURVE key pairs for ZMTP sockets.
 * @module
 */

import nacl from "tweetnacl";
import { decodeZ85, encodeZ85 } from "./z85.ts";

/** A CURVE key pair, both keys Z85-encoded (40 characters each). */
export interface CurveKeyPair {
  publicKey: string;
  secretKey: string;
}

/**
 * Makes a new CURVE key pair, as libzmq's `zmq_curve_keypair()` does.
 * @example
 * ```ts
 * const server = curveKeyPair();
 * const pull = new PullSocket({ curve: { ...server, authorizedKeys: [clientPublicKey] } });
 * ```
 */
export function curveKeyPair(): CurveKeyPair {
  const pair = nacl.box.keyPair();
  return { publicKey: encodeZ85(pair.publicKey), secretKey: encodeZ85(pair.secretKey) };
}

/**
 * The public key of a Z85 CURVE secret key, so a key file needs only the secret. Throws
 * TypeError for text that is not a 40-character Z85 key.
 */
export function curvePublicKey(secretKey: string): string {
  let secret: Uint8Array;
  try {
    secret = secretKey.length === 40 ? decodeZ85(secretKey) : new Uint8Array(0);
  } catch (error) {
    throw new TypeError(`Cannot read CURVE secret key: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (secret.length !== 32) {
    throw new TypeError("Cannot read CURVE secret key: expected 40 Z85 characters");
  }
  return encodeZ85(nacl.scalarMult.base(secret));
}
