/**
 * The few curve25519 field facts an identity needs, in bigint arithmetic: decoding an ed25519
 * public key, checking it is a usable point, and mapping it to the X25519 key of the same
 * secret (RFC 7748 §4.1: u = (1 + y) / (1 − y)). Only done once per key, so clarity over speed.
 */

/** The field prime 2^255 − 19. */
const P = 2n ** 255n - 19n;

/** The Edwards curve constant d = −121665 / 121666 mod p. */
const D = 37095705934669439343138083508754565189542113879843219016388785533085940283555n;

/**
 * u-coordinates of the points of small order (1, 2, 4 and 8) once mapped to Montgomery form.
 * Such a key has (almost) no secret behind it: every DH with it gives a handful of values.
 */
const SMALL_ORDER_U: readonly bigint[] = [
  0n,
  1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n,
];

const mod = (a: bigint): bigint => {
  const r = a % P;
  return r < 0n ? r + P : r;
};

/** Little-endian bytes to a bigint. */
export function fromLittleEndian(bytes: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(bytes).reverse().toString('hex') || '0'}`);
}

/** A field element as 32 little-endian bytes. */
export function toLittleEndian(n: bigint): Buffer {
  return Buffer.from(n.toString(16).padStart(64, '0'), 'hex').reverse();
}

/** a^−1 mod p by the extended Euclidean algorithm (a ≠ 0). */
function invert(a: bigint): bigint {
  let [r0, r1] = [P, mod(a)];
  let [t0, t1] = [0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [t0, t1] = [t1, t0 - q * t1];
  }
  return mod(t0);
}

/** The Jacobi symbol (a / p): 1 for a non-zero square mod p, −1 for a non-square, 0 for 0. */
function jacobi(a: bigint): number {
  let n = P;
  let x = mod(a);
  let t = 1;
  while (x !== 0n) {
    while ((x & 1n) === 0n) {
      x >>= 1n;
      const r = n & 7n;
      if (r === 3n || r === 5n) t = -t;
    }
    [x, n] = [n, x];
    if ((x & 3n) === 3n && (n & 3n) === 3n) t = -t;
    x %= n;
  }
  return n === 1n ? t : 0;
}

/** The y-coordinate of an encoded ed25519 point (RFC 8032 §5.1.3), or undefined if ≥ p. */
export function edwardsY(publicKey: Uint8Array): bigint | undefined {
  const y = fromLittleEndian(publicKey) & ((1n << 255n) - 1n);
  return y < P ? y : undefined;
}

/**
 * Why an encoded ed25519 public key cannot be an identity, or undefined when it can: it must be
 * a canonical encoding of a point on the curve, not of small order.
 */
export function edwardsKeyProblem(publicKey: Uint8Array): string | undefined {
  const y = edwardsY(publicKey);
  if (y === undefined) return 'its y-coordinate is not reduced mod 2^255 − 19';
  const y2 = mod(y * y);
  // x² = (y² − 1) / (d·y² + 1) must be a square; the denominator is never 0 (d is a non-square).
  const x2Sign = jacobi(mod(y2 - 1n) * mod(D * y2 + 1n));
  if (x2Sign === -1) return 'it is not a point on the ed25519 curve';
  if (y === 1n || SMALL_ORDER_U.includes(montgomeryU(y))) return 'it is a point of small order';
  return undefined;
}

/** The Montgomery u = (1 + y) / (1 − y) of an Edwards y ≠ 1. */
export function montgomeryU(y: bigint): bigint {
  return mod((1n + y) * invert(1n - y));
}

/**
 * Whether X25519 public key `u` (32 bytes) is the Montgomery form of Edwards `y`, without a
 * division: u·(1 − y) = 1 + y (mod p). A non-canonical u (≥ p) never matches.
 */
export function isMontgomeryOf(u: Uint8Array, y: bigint): boolean {
  const value = fromLittleEndian(u);
  return value < P && mod(value * (1n - y)) === mod(1n + y);
}
