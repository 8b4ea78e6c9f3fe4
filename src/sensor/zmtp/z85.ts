/**
 * Z85 (rfc.zeromq.org 32/Z85): the printable encoding libzmq uses for CURVE keys, 5 characters
 * per 4 bytes, so a 32-byte key is 40 characters.
 * @module
 */

const ALPHABET =
  "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

const DECODE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/**
 * Encodes bytes (a multiple of 4) as Z85. Throws RangeError for other lengths.
 * @example
 * ```ts
 * encodeZ85(new Uint8Array([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b])); // "HelloWorld"
 * ```
 */
export function encodeZ85(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) {
    throw new RangeError(`Cannot encode Z85: ${bytes.length} bytes is not a multiple of 4`);
  }
  let out = "";
  for (let i = 0; i < bytes.length; i += 4) {
    let value = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) |
      bytes[i + 3]!) >>> 0;
    const chunk = new Array<string>(5);
    for (let j = 4; j >= 0; j--) {
      chunk[j] = ALPHABET[value % 85]!;
      value = Math.floor(value / 85);
    }
    out += chunk.join("");
  }
  return out;
}

/**
 * Decodes Z85 text (a multiple of 5 characters). Throws SyntaxError naming the problem for a
 * bad length, a character outside the alphabet, or a group above 2^32 - 1.
 */
export function decodeZ85(text: string): Uint8Array {
  if (text.length % 5 !== 0) {
    throw new SyntaxError(`Cannot decode Z85: ${text.length} characters is not a multiple of 5`);
  }
  const out = new Uint8Array((text.length / 5) * 4);
  for (let i = 0, o = 0; i < text.length; i += 5, o += 4) {
    let value = 0;
    for (let j = 0; j < 5; j++) {
      const code = text.charCodeAt(i + j);
      const digit = code < 128 ? DECODE[code]! : -1;
      if (digit < 0) {
        throw new SyntaxError(
          `Cannot decode Z85: character ${JSON.stringify(text[i + j])} at ${i + j} is invalid`,
        );
      }
      value = value * 85 + digit;
    }
    if (value > 0xffff_ffff) {
      throw new SyntaxError(`Cannot decode Z85: group at ${i} exceeds 32 bits`);
    }
    out[o] = value >>> 24;
    out[o + 1] = (value >>> 16) & 0xff;
    out[o + 2] = (value >>> 8) & 0xff;
    out[o + 3] = value & 0xff;
  }
  return out;
}
