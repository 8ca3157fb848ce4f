import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { base32Decode, base32Encode, base32Length } from '../codec/base32.js';
import { ShoalError } from '../errors.js';
import {
  edwardsKeyProblem,
  edwardsY,
  isMontgomeryOf,
  montgomeryU,
  toLittleEndian,
} from './curve25519.js';
import { type DhKeyPair, type DhPublicKey, x25519KeyPair, x25519PublicKey } from './noise/dh.js';

/**
 * A node is its key: an ed25519 key pair whose public half is the node's name everywhere
 * (CLI, API, links, the DHT). The same secret is the node's Noise static key, converted to
 * X25519 (the standard birational map, as libsodium's `crypto_sign_ed25519_*_to_curve25519`), so
 * whoever knows a node's identity can open an IK handshake to it with nothing else, and a
 * completed handshake proves the peer holds the identity's secret: no signature is needed.
 * Converting rather than signing the Noise key keeps a handshake at its DH cost (an ed25519
 * signature and its check would add about 200 µs a side) and lets IK start from the key alone.
 *
 * One thing conversion does not bind is the sign of the Edwards x-coordinate: A and −A map to
 * the same X25519 key, so the owner of A could also present itself as −A. No one else can (−A's
 * secret is −a), so this is a second identity its owner could have made anyway, never an
 * impersonation; shoal nodes always present their own A.
 */

/**
 * The text form of an identity: `shoal_` and the 32 key bytes in lower-case base32 (52
 * characters, RFC 4648 alphabet, no padding). Base32 because it is one case, has no look-alike
 * characters, and passes through URLs, file names, shells and DNS labels unquoted; `_` keeps the
 * whole key one "word", so a double-click selects it. The prefix tells a shoal key apart from
 * the other base32 and hex strings a user meets (info-hashes, other programs' keys) and leaves
 * room for another key type later under another prefix.
 */
export const IDENTITY_PREFIX = 'shoal_';

/** Bytes of a seed, of a public key. */
const KEY_BYTES = 32;

/** Length of the text form: prefix plus 52 characters. */
export const IDENTITY_TEXT_LENGTH = IDENTITY_PREFIX.length + base32Length(KEY_BYTES);

/** A key that is not a usable identity, or text that is not a key. */
export class IdentityError extends ShoalError {
  constructor(message: string) {
    super('IDENTITY_INVALID', message);
  }
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

/**
 * A node's public identity: the 32-byte ed25519 public key, its text form, signature checks and
 * its X25519 key for Noise. Two keys are the same identity when `equals` says so.
 */
export class IdentityKey {
  private verifyKey: KeyObject | undefined;
  private imported: DhPublicKey | undefined;

  private constructor(
    /** The raw ed25519 public key (RFC 8032 encoding). */
    readonly bytes: Buffer,
    private x25519: Buffer | undefined,
  ) {}

  /**
   * The identity of a raw 32-byte ed25519 public key from anywhere untrusted; throws
   * `IdentityError` unless it is a canonical point on the curve, not of small order.
   */
  static fromBytes(bytes: Uint8Array): IdentityKey {
    if (bytes.length !== KEY_BYTES) {
      throw new IdentityError(`an identity key is ${KEY_BYTES} bytes, not ${bytes.length}`);
    }
    const problem = edwardsKeyProblem(bytes);
    if (problem !== undefined) throw new IdentityError(`not a usable identity key: ${problem}`);
    return new IdentityKey(Buffer.from(bytes), undefined);
  }

  /**
   * The identity whose X25519 form is `noiseKey`, if `bytes` is one: what a Noise handshake's
   * payload claims, checked against the static key the handshake proved. Cheap (no division):
   * the proven key is a curve point, so a matching y is one too.
   */
  static matchingNoiseKey(bytes: Uint8Array, noiseKey: Uint8Array): IdentityKey | undefined {
    if (bytes.length !== KEY_BYTES || noiseKey.length !== KEY_BYTES) return undefined;
    const y = edwardsY(bytes);
    if (y === undefined || !isMontgomeryOf(noiseKey, y)) return undefined;
    return new IdentityKey(Buffer.from(bytes), Buffer.from(noiseKey));
  }

  /**
   * Reads the text form (surrounding white space and upper case are forgiven); throws
   * `IdentityError` saying what is wrong.
   */
  static parse(text: string): IdentityKey {
    const trimmed = text.trim();
    const shown = trimmed.length > 80 ? `${trimmed.slice(0, 80)}…` : trimmed;
    if (!trimmed.toLowerCase().startsWith(IDENTITY_PREFIX)) {
      throw new IdentityError(`"${shown}" is not a shoal key: one starts with ${IDENTITY_PREFIX}`);
    }
    if (trimmed.length !== IDENTITY_TEXT_LENGTH) {
      throw new IdentityError(
        `"${shown}" is not a shoal key: one has ${IDENTITY_TEXT_LENGTH} characters, this has ${trimmed.length} (cut short when copied?)`,
      );
    }
    const decoded = base32Decode(trimmed.slice(IDENTITY_PREFIX.length));
    if (!Buffer.isBuffer(decoded)) {
      const what =
        decoded.kind === 'character'
          ? `"${trimmed[IDENTITY_PREFIX.length + decoded.index]}" is not one of a–z and 2–7`
          : 'its last character is not one a key can end with';
      throw new IdentityError(`"${shown}" is not a shoal key: ${what}`);
    }
    return IdentityKey.fromBytes(decoded);
  }

  /** The text form, `shoal_` and 52 base32 characters. */
  toString(): string {
    return IDENTITY_PREFIX + base32Encode(this.bytes);
  }

  /** Same key, byte for byte. */
  equals(other: IdentityKey): boolean {
    return this.bytes.equals(other.bytes);
  }

  /** The X25519 public key of the same secret: this identity's Noise static key. */
  noiseKey(): Buffer {
    this.x25519 ??= toLittleEndian(montgomeryU(edwardsY(this.bytes)!));
    return this.x25519;
  }

  /**
   * The Noise static key imported for node:crypto's DH, kept: every IK handshake to this
   * identity needs it, and importing costs about as much as a third of a DH.
   */
  noisePublicKey(): DhPublicKey {
    this.imported ??= x25519PublicKey(this.noiseKey());
    return this.imported;
  }

  /** Whether `signature` is this identity's ed25519 signature of `message`. */
  verify(message: Uint8Array, signature: Uint8Array): boolean {
    if (signature.length !== 64) return false;
    this.verifyKey ??= createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: b64(this.bytes) },
      format: 'jwk',
    });
    return verify(null, message, this.verifyKey, signature);
  }
}

/**
 * A node's own identity: the secret seed, the signing key, the public identity and the Noise
 * static key pair derived from the same seed. Persisting the seed is the caller's business.
 */
export class Identity {
  /** Our public identity. */
  readonly publicKey: IdentityKey;
  /** Our Noise static key pair (the identity's secret in X25519 form). */
  readonly noiseKeyPair: DhKeyPair;
  private readonly signingKey: KeyObject;
  private readonly seed: Buffer;

  private constructor(seed: Uint8Array) {
    this.seed = Buffer.from(seed);
    this.signingKey = createPrivateKey({
      key: { kty: 'OKP', crv: 'Ed25519', d: b64(seed), x: '' },
      format: 'jwk',
    });
    const x = this.signingKey.export({ format: 'jwk' }).x;
    if (x === undefined) throw new IdentityError('node:crypto gave no ed25519 public key');
    this.noiseKeyPair = x25519KeyPair(x25519PrivateKey(seed));
    const publicKey = IdentityKey.matchingNoiseKey(
      Buffer.from(x, 'base64url'),
      this.noiseKeyPair.publicKey,
    );
    if (publicKey === undefined) throw new IdentityError('ed25519 and X25519 keys disagree');
    this.publicKey = publicKey;
  }

  /** The identity of a 32-byte secret seed (RFC 8032's private key). */
  static fromSeed(seed: Uint8Array): Identity {
    if (seed.length !== KEY_BYTES) {
      throw new IdentityError(`an identity seed is ${KEY_BYTES} bytes, not ${seed.length}`);
    }
    return new Identity(seed);
  }

  /** A new identity from 32 random bytes (give it the runtime's `RandomSource`). */
  static generate(random: { bytes(length: number): Buffer }): Identity {
    return new Identity(random.bytes(KEY_BYTES));
  }

  /** A copy of the secret seed, for the caller to store (it is the whole identity). */
  exportSeed(): Buffer {
    return Buffer.from(this.seed);
  }

  /** Our ed25519 signature (64 bytes) of `message`. */
  sign(message: Uint8Array): Buffer {
    return sign(null, message, this.signingKey);
  }
}

/**
 * The X25519 private key of an ed25519 seed: the first half of SHA-512(seed), clamped — the
 * scalar ed25519 itself signs with, so its X25519 public key is the identity's Montgomery form.
 */
export function x25519PrivateKey(seed: Uint8Array): Buffer {
  const scalar = createHash('sha512').update(seed).digest().subarray(0, 32);
  scalar[0] = scalar[0]! & 248;
  scalar[31] = (scalar[31]! & 127) | 64;
  return scalar;
}
