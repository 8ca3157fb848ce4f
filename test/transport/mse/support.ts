import { SeededRandom } from '../../../src/runtime/seeded-random.js';
import { MseKeyPair } from '../../../src/transport/mse/dh.js';
import { MseInitiator, type MseInitiatorOptions } from '../../../src/transport/mse/initiator.js';
import {
  type MseAllow,
  type MseCiphers,
  type MseOutcome,
  mseCiphers,
  mseHash,
  SkeyTable,
  skeyHash,
  xor20,
} from '../../../src/transport/mse/protocol.js';
import {
  MseResponder,
  type MseResponderOptions,
  type MseResponderOutcome,
} from '../../../src/transport/mse/responder.js';

/** The info-hashes the test responder serves; `INFO_HASH` is the one dialled. */
export const INFO_HASH = Buffer.from('0123456789abcdef0123456789abcdef01234567', 'hex');
export const OTHER_HASH = Buffer.from('fedcba9876543210fedcba9876543210fedcba98', 'hex');
export const served = new SkeyTable();
served.add(OTHER_HASH);
served.add(INFO_HASH);

/** A machine's `receive`, for drivers that do not care which side it is. */
type Feed<O> = (chunk: Uint8Array) => { send: readonly Buffer[]; outcome: O | undefined };

/** Everything one side sent, and its outcome, from {@link runMachines}. */
export interface Transcript {
  readonly aToB: Buffer;
  readonly bToA: Buffer;
  readonly initiator: MseOutcome;
  readonly responder: MseResponderOutcome;
}

/** Seeds the two sides draw their keys and padding from. */
export const SEED_A = 11;
export const SEED_B = 22;

export const initiatorWith = (o: Partial<MseInitiatorOptions> = {}, seed = SEED_A) =>
  new MseInitiator({ infoHash: INFO_HASH, allow: 'both', random: new SeededRandom(seed), ...o });

export const responderWith = (o: Partial<MseResponderOptions> = {}, seed = SEED_B) =>
  new MseResponder({
    lookupSkey: served.lookup,
    allow: 'both',
    random: new SeededRandom(seed),
    ...o,
  });

/**
 * Runs an initiator and a responder against each other, handing over whole messages, and
 * records both directions' bytes.
 */
export function runMachines(initiator: MseInitiator, responder: MseResponder): Transcript {
  const aToB: Buffer[] = [initiator.start()];
  const bToA: Buffer[] = [];
  let toB = [aToB[0]!];
  let a: MseOutcome | undefined;
  let b: MseResponderOutcome | undefined;
  for (let round = 0; round < 10 && (a === undefined || b === undefined); round++) {
    const toA: Buffer[] = [];
    for (const m of toB) {
      const step = responder.receive(m);
      toA.push(...step.send);
      b ??= step.outcome;
    }
    bToA.push(...toA);
    toB = [];
    for (const m of toA) {
      const step = initiator.receive(m);
      toB.push(...step.send);
      a ??= step.outcome;
    }
    aToB.push(...toB);
  }
  if (a === undefined || b === undefined) throw new Error('the handshake did not complete');
  return { aToB: Buffer.concat(aToB), bToA: Buffer.concat(bToA), initiator: a, responder: b };
}

/**
 * Feeds `bytes` to `feed` cut at `cuts` (sorted offsets) until it completes, returning what it
 * sent and its outcome; throws what it throws.
 */
export function feedCut<O>(feed: Feed<O>, bytes: Buffer, cuts: readonly number[]) {
  const sent: Buffer[] = [];
  let outcome: O | undefined;
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    if (to === from) continue;
    if (outcome !== undefined) break; // a complete machine takes no more bytes
    const step = feed(bytes.subarray(from, to));
    sent.push(...step.send);
    outcome ??= step.outcome;
    from = to;
  }
  return { sent: Buffer.concat(sent), outcome };
}

/** What a hand-made initiator puts in its third message. */
export interface ThirdMessage {
  readonly skey?: Uint8Array;
  readonly vc?: Uint8Array;
  readonly provide?: number;
  readonly padC?: number;
  readonly initialPayload?: Uint8Array;
  /** Garbage before HASH('req1', S), as PadA. */
  readonly padA?: number;
}

/**
 * A scripted initiator for hostile tests: sends Ya (+ PadA), and once given Yb builds a third
 * message with whatever fields the test wants.
 */
export class CraftedInitiator {
  readonly keys = new MseKeyPair(new SeededRandom(99));
  ciphers: MseCiphers | undefined;

  first(padA = 0): Buffer {
    return Buffer.concat([this.keys.publicKey, Buffer.alloc(padA, 0x5a)]);
  }

  third(yb: Uint8Array, m: ThirdMessage = {}): Buffer {
    const secret = this.keys.sharedSecret(yb);
    const skey = m.skey ?? INFO_HASH;
    this.ciphers = mseCiphers('initiator', secret, skey);
    const padC = m.padC ?? 0;
    const ia = m.initialPayload ?? Buffer.alloc(0);
    const enc = Buffer.alloc(8 + 4 + 2 + padC + 2 + ia.length);
    if (m.vc) enc.set(m.vc, 0);
    enc.writeUInt32BE(m.provide ?? 0x03, 8);
    enc.writeUInt16BE(padC, 12);
    enc.writeUInt16BE(ia.length, 14 + padC);
    enc.set(ia, 16 + padC);
    this.ciphers.encrypt.process(enc);
    return Buffer.concat([
      mseHash('req1', secret),
      xor20(skeyHash(skey), mseHash('req3', secret)),
      enc,
    ]);
  }
}

/** A scripted responder for hostile tests: Yb (+ PadB), then a fourth message of its choice. */
export class CraftedResponder {
  readonly keys = new MseKeyPair(new SeededRandom(77));
  ciphers: MseCiphers | undefined;

  second(ya: Uint8Array, padB = 0): Buffer {
    this.ciphers = mseCiphers('responder', this.keys.sharedSecret(ya), INFO_HASH);
    return Buffer.concat([this.keys.publicKey, Buffer.alloc(padB, 0xa5)]);
  }

  fourth(m: { select?: number; padD?: number; vc?: Uint8Array } = {}): Buffer {
    const padD = m.padD ?? 0;
    const out = Buffer.alloc(8 + 4 + 2 + padD);
    if (m.vc) out.set(m.vc, 0);
    out.writeUInt32BE(m.select ?? 0x02, 8);
    out.writeUInt16BE(padD, 12);
    this.ciphers!.encrypt.process(out);
    return out;
  }
}

/** Every pair of (initiator allows, responder allows) and what they should agree on. */
export const COMBINATIONS: readonly {
  a: MseAllow;
  b: MseAllow;
  prefer?: 'rc4' | 'plaintext';
  expect: 'rc4' | 'plaintext' | 'no-common-crypto';
}[] = [
  { a: 'both', b: 'both', expect: 'rc4' },
  { a: 'both', b: 'both', prefer: 'plaintext', expect: 'plaintext' },
  { a: 'both', b: 'rc4', expect: 'rc4' },
  { a: 'both', b: 'plaintext', expect: 'plaintext' },
  { a: 'rc4', b: 'both', expect: 'rc4' },
  { a: 'rc4', b: 'both', prefer: 'plaintext', expect: 'rc4' },
  { a: 'rc4', b: 'rc4', expect: 'rc4' },
  { a: 'rc4', b: 'plaintext', expect: 'no-common-crypto' },
  { a: 'plaintext', b: 'both', expect: 'plaintext' },
  { a: 'plaintext', b: 'plaintext', expect: 'plaintext' },
  { a: 'plaintext', b: 'rc4', expect: 'no-common-crypto' },
];
