import { asciiAt, completeLines } from "./_bytes.ts";
import type { SignatureInput, SignatureMatch } from "./signature_match.ts";

/** Commands an FTP client opens a control connection with (RFC 959, 2228, 2389, 2640). */
const FTP_FIRST =
  /^(USER|AUTH (TLS|SSL|TLS-C|TLS-P)|FEAT|SYST|OPTS|HOST|CLNT|ACCT|PASS|PBSZ|NOOP)( |$)/i;
/** First commands of other "220 banner" protocols (SMTP, LMTP, NNTP …). */
const OTHER_FIRST = /^(EHLO|HELO|LHLO|STARTTLS|MAIL|QUIT|MODE READER|CAPABILITIES)( |$)/i;

function isLetter(c: number | undefined): boolean {
  return c !== undefined && ((c >= 65 && c <= 90) || (c >= 97 && c <= 122));
}

/** True when `buf` starts with an FTP/SMTP-style greeting line (`220 ` or `220-`). */
export function isGreeting220(buf: Uint8Array): boolean {
  return asciiAt(buf, 0, "220") && (buf[3] === 32 || buf[3] === 45 || buf[3] === 13);
}

/** Classifies the first lines of an FTP-looking control connection. */
export function ftpVerdict(
  serverLines: readonly string[],
  clientLines: readonly string[],
  serverPort: number,
): boolean | undefined {
  const banner = serverLines[0];
  const first = clientLines[0];
  if (first !== undefined) {
    if (FTP_FIRST.test(first)) return banner === undefined || banner.startsWith("220");
    if (OTHER_FIRST.test(first)) return false;
  }
  if (banner === undefined || !/^220[ -]/.test(banner)) return undefined;
  if (/\b(E?SMTP|NNTP|LMTP|postfix|exim|sendmail)\b/i.test(banner)) return false;
  if (/ftp/i.test(banner)) return true;
  return serverPort === 21 ? true : undefined;
}

/**
 * FTP control connection: the server's `220` greeting with a first client command of FTP (USER,
 * AUTH TLS, FEAT …), or a greeting that names FTP. SMTP's `220 … ESMTP` greeting followed by EHLO
 * is the near miss it must reject.
 */
export function ftpSignature(input: SignatureInput): SignatureMatch | undefined {
  if (input.protocol !== 6) return undefined;
  // Cheap exits before any line is decoded: a server that spoke first without "220", or a
  // client whose first byte is no command letter.
  if (input.bwd.length > 0 ? !isGreeting220(input.bwd) : !isLetter(input.fwd[0])) return undefined;
  const server = completeLines(input.bwd, 4);
  const client = completeLines(input.fwd, 2);
  return ftpVerdict(server, client, input.dstPort) === true
    ? { protocol: "ftp", detail: "control" }
    : undefined;
}
