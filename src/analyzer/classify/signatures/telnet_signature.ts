import type { SignatureInput, SignatureMatch } from "./signature_match.ts";

const IAC = 255;
const SB = 250;
const SE = 240;

/**
 * Counts the telnet commands (IAC WILL/WONT/DO/DONT option, IAC SB … IAC SE, two-byte commands)
 * that `buf` starts with; -1 when a command is malformed, so binary data starting with 0xFF is not
 * taken for telnet.
 */
export function telnetCommands(buf: Uint8Array): number {
  let i = 0;
  let n = 0;
  while (i < buf.length && buf[i] === IAC) {
    const cmd = buf[i + 1];
    if (cmd === undefined) return n;
    if (cmd >= 251 && cmd <= 254) {
      const opt = buf[i + 2];
      if (opt === undefined) return n;
      // Assigned options are 0..49 plus 255 (extended options list).
      if (opt > 49 && opt !== 255) return -1;
      i += 3;
    } else if (cmd === SB) {
      let j = i + 2;
      while (j + 1 < buf.length && !(buf[j] === IAC && buf[j + 1] === SE)) j++;
      if (j + 1 >= buf.length) return n;
      i = j + 2;
    } else if (cmd >= 241 && cmd <= 249) {
      i += 2;
    } else {
      return -1;
    }
    n++;
  }
  return n;
}

/**
 * Telnet: option negotiation at the start of a direction: at least two well-formed commands, or
 * one on port 23. (Plain text on port 23 with no negotiation is not recognised.)
 */
export function telnetSignature(input: SignatureInput): SignatureMatch | undefined {
  if (input.protocol !== 6) return undefined;
  const need = input.dstPort === 23 ? 1 : 2;
  const fwd = telnetCommands(input.fwd);
  const bwd = telnetCommands(input.bwd);
  if (fwd < 0 || bwd < 0) return undefined;
  return fwd >= need || bwd >= need ? { protocol: "telnet", detail: "negotiation" } : undefined;
}
