/**
 * The RC4 stream cipher, which Message Stream Encryption uses and Node 20's OpenSSL no longer
 * offers. One instance is one direction of one connection: every call continues the keystream.
 * MSE discards the first 1024 bytes of keystream; that is the caller's {@link Rc4.discard}.
 */
export class Rc4 {
  private readonly s = new Uint8Array(256);
  private i = 0;
  private j = 0;

  constructor(key: Uint8Array) {
    if (key.length === 0 || key.length > 256) throw new RangeError('RC4 keys are 1 to 256 bytes');
    const s = this.s;
    for (let n = 0; n < 256; n++) s[n] = n;
    let j = 0;
    for (let n = 0; n < 256; n++) {
      const sn = s[n]!;
      j = (j + sn + key[n % key.length]!) & 0xff;
      s[n] = s[j]!;
      s[j] = sn;
    }
  }

  /** Skips `bytes` of keystream (MSE: 1024 right after keying). */
  discard(bytes: number): void {
    const scratch = new Uint8Array(Math.min(bytes, 1024));
    for (let left = bytes; left > 0; left -= scratch.length) {
      this.process(left >= scratch.length ? scratch : scratch.subarray(0, left));
    }
  }

  /**
   * XORs `data[start, end)` with the next keystream bytes, in place: encrypts plaintext and
   * decrypts ciphertext alike.
   */
  process(data: Uint8Array, start = 0, end = data.length): void {
    // Everything the loop touches lives in locals, and eight bytes a round cut the loop
    // overhead: about 1.5× the speed of one byte a round on V8.
    const s = this.s;
    let i = this.i;
    let j = this.j;
    let si = 0;
    let sj = 0;
    let k = start;
    for (const last8 = end - 8; k <= last8; k += 8) {
      i = (i + 1) & 0xff;
      si = s[i]!;
      j = (j + si) & 0xff;
      sj = s[j]!;
      s[i] = sj;
      s[j] = si;
      data[k] = data[k]! ^ s[(si + sj) & 0xff]!;
      i = (i + 1) & 0xff;
      si = s[i]!;
      j = (j + si) & 0xff;
      sj = s[j]!;
      s[i] = sj;
      s[j] = si;
      data[k + 1] = data[k + 1]! ^ s[(si + sj) & 0xff]!;
      i = (i + 1) & 0xff;
      si = s[i]!;
      j = (j + si) & 0xff;
      sj = s[j]!;
      s[i] = sj;
      s[j] = si;
      data[k + 2] = data[k + 2]! ^ s[(si + sj) & 0xff]!;
      i = (i + 1) & 0xff;
      si = s[i]!;
      j = (j + si) & 0xff;
      sj = s[j]!;
      s[i] = sj;
      s[j] = si;
      data[k + 3] = data[k + 3]! ^ s[(si + sj) & 0xff]!;
      i = (i + 1) & 0xff;
      si = s[i]!;
      j = (j + si) & 0xff;
      sj = s[j]!;
      s[i] = sj;
      s[j] = si;
      data[k + 4] = data[k + 4]! ^ s[(si + sj) & 0xff]!;
      i = (i + 1) & 0xff;
      si = s[i]!;
      j = (j + si) & 0xff;
      sj = s[j]!;
      s[i] = sj;
      s[j] = si;
      data[k + 5] = data[k + 5]! ^ s[(si + sj) & 0xff]!;
      i = (i + 1) & 0xff;
      si = s[i]!;
      j = (j + si) & 0xff;
      sj = s[j]!;
      s[i] = sj;
      s[j] = si;
      data[k + 6] = data[k + 6]! ^ s[(si + sj) & 0xff]!;
      i = (i + 1) & 0xff;
      si = s[i]!;
      j = (j + si) & 0xff;
      sj = s[j]!;
      s[i] = sj;
      s[j] = si;
      data[k + 7] = data[k + 7]! ^ s[(si + sj) & 0xff]!;
    }
    for (; k < end; k++) {
      i = (i + 1) & 0xff;
      si = s[i]!;
      j = (j + si) & 0xff;
      sj = s[j]!;
      s[i] = sj;
      s[j] = si;
      data[k] = data[k]! ^ s[(si + sj) & 0xff]!;
    }
    this.i = i;
    this.j = j;
  }
}
