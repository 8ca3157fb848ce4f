import { AES_GCM, CHACHA_POLY, type CipherFunctions } from './cipher-state.js';
import { NoiseError } from './errors.js';
import { BLAKE2B, type HashFunctions, SHA256 } from './hash-functions.js';

/** A handshake token (§7.1); `psk` is not supported. */
export type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss';

/**
 * A handshake pattern as data (§7): what each side's pre-message holds and the token list of
 * each message, initiator first, alternating. One engine runs every pattern listed here.
 */
export interface HandshakePattern {
  readonly name: string;
  readonly initiatorPreMessage: readonly 's'[];
  readonly responderPreMessage: readonly 's'[];
  readonly messages: readonly (readonly Token[])[];
}

/** NN: no static keys (only for the test vectors). */
export const NN: HandshakePattern = {
  name: 'NN',
  initiatorPreMessage: [],
  responderPreMessage: [],
  messages: [['e'], ['e', 'ee']],
};

/** XX: both static keys are sent, encrypted; for first contact, when neither knows the other. */
export const XX: HandshakePattern = {
  name: 'XX',
  initiatorPreMessage: [],
  responderPreMessage: [],
  messages: [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']],
};

/** IK: the initiator already knows the responder's static key; one round trip. */
export const IK: HandshakePattern = {
  name: 'IK',
  initiatorPreMessage: [],
  responderPreMessage: ['s'],
  messages: [
    ['e', 'es', 's', 'ss'],
    ['e', 'ee', 'se'],
  ],
};

const PATTERNS: readonly HandshakePattern[] = [NN, XX, IK];
const CIPHERS: readonly CipherFunctions[] = [CHACHA_POLY, AES_GCM];
const HASHES: readonly HashFunctions[] = [BLAKE2B, SHA256];

/** A complete Noise protocol (§8): a pattern, X25519, a cipher and a hash. */
export interface NoiseProtocol {
  readonly name: string;
  readonly pattern: HandshakePattern;
  readonly cipher: CipherFunctions;
  readonly hash: HashFunctions;
}

/**
 * The protocol a name such as `Noise_XX_25519_ChaChaPoly_BLAKE2b` stands for; throws
 * `NOISE_STATE` for names this implementation does not speak (other patterns, DH functions,
 * modifiers).
 */
export function noiseProtocol(name: string): NoiseProtocol {
  const [noise, patternName, dh, cipherName, hashName, ...rest] = name.split('_');
  const pattern = PATTERNS.find((p) => p.name === patternName);
  const cipher = CIPHERS.find((c) => c.name === cipherName);
  const hash = HASHES.find((h) => h.name === hashName);
  if (noise !== 'Noise' || dh !== '25519' || rest.length > 0 || !pattern || !cipher || !hash) {
    throw new NoiseError('NOISE_STATE', `unsupported Noise protocol ${name}`);
  }
  return { name, pattern, cipher, hash };
}

/** shoal's first-contact handshake. */
export const NOISE_XX = noiseProtocol('Noise_XX_25519_ChaChaPoly_BLAKE2b');

/** shoal's handshake to a peer whose identity is known. */
export const NOISE_IK = noiseProtocol('Noise_IK_25519_ChaChaPoly_BLAKE2b');
