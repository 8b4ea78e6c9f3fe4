import { indexOfLf } from "./_bytes.ts";
import { isGreeting220 } from "./ftp_signature.ts";

/**
 * Whether the first payload bytes of a direction are enough before the byte budget is full:
 * a UDP direction after its first datagram (signatures read one message, and the next datagram
 * must not be glued to it), a TCP direction that opens with a complete `220` greeting line (a
 * possible FTP control connection, followed from there on for its PASV/PORT lines).
 */
export function payloadReady(protocol: number, payload: Uint8Array): boolean {
  if (protocol === 17) return true;
  return protocol === 6 && isGreeting220(payload) && indexOfLf(payload) >= 0;
}
