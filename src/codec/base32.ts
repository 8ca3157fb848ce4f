/**
 * RFC 4648 base32 without padding, written in lower case: the alphabet of text that people copy,
 * type and read aloud (no 0/O, 1/l or 8/B pairs, one case), and that survives URLs, file names
 * and DNS labels unescaped.
 */

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** Value of each character code (either case), or -1. */
const VALUES = (() => {
  const values = new Int8Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) {
    values[ALPHABET.charCodeAt(i)] = i;
    values[ALPHABET.toUpperCase().charCodeAt(i)] = i;
  }
  return values;
})();

/** Characters needed for `byteLength` bytes. */
export const base32Length = (byteLength: number): number => Math.ceil((byteLength * 8) / 5);

/** Lower-case base32 of `bytes`, no padding; the unused low bits of the last character are 0. */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const byte of bytes) {
    acc = ((acc << 8) | byte) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >>> bits) & 31];
    }
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

/** Why {@link base32Decode} refused a text. */
export type Base32Problem =
  | { readonly kind: 'character'; readonly index: number }
  | { readonly kind: 'length' }
  | { readonly kind: 'trailing-bits' };

/**
 * The bytes of unpadded base32 `text` (either case), or what is wrong with it: a character
 * outside the alphabet, a length no byte count encodes to, or non-zero unused bits in the last
 * character (so every byte string has exactly one text form).
 */
export function base32Decode(text: string): Buffer | Base32Problem {
  const byteLength = Math.floor((text.length * 5) / 8);
  if (base32Length(byteLength) !== text.length) return { kind: 'length' };
  const out = Buffer.allocUnsafe(byteLength);
  let acc = 0;
  let bits = 0;
  let at = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? VALUES[code]! : -1;
    if (value < 0) return { kind: 'character', index: i };
    acc = ((acc << 5) | value) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (acc >>> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) return { kind: 'trailing-bits' };
  return out;
}
