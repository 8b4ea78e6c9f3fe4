import { headerEnd, indexOfLf } from "./_bytes.ts";
import { isGreeting220 } from "./ftp_signature.ts";
import { parseHttpRequest } from "./http_signature.ts";

/**
 * Whether the first payload bytes of a direction are enough before the byte budget is full:
 * a UDP direction after its first datagram (signatures read one message, and the next datagram
 * must not be glued to it), a TCP direction that opens with a complete `220` greeting line (a
 * possible FTP control connection, followed from there on for its PASV/PORT lines) or with a
 * complete HTTP request head (followed from there on for every request of the connection).
 */
export function payloadReady(protocol: number, payload: Uint8Array): boolean {
  if (protocol === 17) return true;
  if (protocol !== 6) return false;
  if (isGreeting220(payload)) return indexOfLf(payload) >= 0;
  return headerEnd(payload) >= 0 && parseHttpRequest(payload) !== undefined;
}
