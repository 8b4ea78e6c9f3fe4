import { asciiAt, indexOfLf, latin1, printable } from "./_bytes.ts";
import type { SignatureInput, SignatureMatch } from "./signature_match.ts";

/**
 * The SSH identification string (`SSH-2.0-OpenSSH_9.2p1`) in the first lines of `buf`, or
 * undefined. RFC 4253 §4.2 lets a server send other lines before it; a client must not.
 */
export function sshIdentification(buf: Uint8Array, allowPreamble: boolean): string | undefined {
  let pos = 0;
  for (let line = 0; line < (allowPreamble ? 8 : 1); line++) {
    if (asciiAt(buf, pos, "SSH-")) {
      const lf = indexOfLf(buf, pos, Math.min(buf.length, pos + 255));
      const end = lf < 0 ? Math.min(buf.length, pos + 255) : (buf[lf - 1] === 13 ? lf - 1 : lf);
      if (!printable(buf, pos, end)) return undefined;
      const id = latin1(buf, pos, end);
      return /^SSH-(2\.0|1\.99|1\.5)-[!-~]+/.test(id) ? id : undefined;
    }
    const lf = indexOfLf(buf, pos, Math.min(buf.length, pos + 1024));
    if (lf < 0 || !printable(buf, pos, buf[lf - 1] === 13 ? lf - 1 : lf)) return undefined;
    pos = lf + 1;
  }
  return undefined;
}

/** SSH: an identification string from the client or from the server. */
export function sshSignature(input: SignatureInput): SignatureMatch | undefined {
  if (input.protocol !== 6) return undefined;
  const id = sshIdentification(input.fwd, false) ?? sshIdentification(input.bwd, true);
  return id === undefined ? undefined : { protocol: "ssh", detail: id };
}
