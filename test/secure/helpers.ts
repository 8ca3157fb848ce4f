import { Identity } from '../../src/crypto/identity.js';
import type { ByteStream, Timers } from '../../src/runtime/runtime.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';
import { type SecureStream, secureAccept, secureConnect } from '../../src/secure/secure-stream.js';

/** Three fixed identities for the secure-channel tests. */
export const [alice, bob, carol] = (() => {
  const random = new SeededRandom(99);
  return [Identity.generate(random), Identity.generate(random), Identity.generate(random)];
})() as [Identity, Identity, Identity];

/** Real-time timers for tests that do not test timing. */
export const realTimers: Timers = {
  setTimeout(callback, delayMs) {
    const t = setTimeout(callback, delayMs);
    return { cancel: () => clearTimeout(t) };
  },
  setInterval(callback, periodMs) {
    const t = setInterval(callback, periodMs);
    return { cancel: () => clearInterval(t) };
  },
};

/** Runs a handshake over `a` (dialling) and `b` (answering); IK when `ik`. */
export async function secureBoth(
  a: ByteStream,
  b: ByteStream,
  options: { ik?: boolean; timers?: Timers; seed?: number } = {},
): Promise<[SecureStream, SecureStream]> {
  const timers = options.timers ?? realTimers;
  const random = new SeededRandom(options.seed ?? 5);
  return Promise.all([
    secureConnect(a, {
      identity: alice,
      random,
      timers,
      ...(options.ik && { remote: bob.publicKey }),
    }),
    secureAccept(b, { identity: bob, random, timers }),
  ]);
}

/** Collects what a stream receives until `length` bytes have arrived. */
export function receiveBytes(stream: ByteStream, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let have = 0;
    stream.onData((data) => {
      parts.push(Buffer.from(data));
      have += data.length;
      if (have >= length) resolve(Buffer.concat(parts));
    });
    stream.onClose((error) => reject(error ?? new Error(`closed after ${have} bytes`)));
  });
}

/** Resolves with the error (or undefined) a stream closes with. */
export function closed(stream: ByteStream): Promise<Error | undefined> {
  return new Promise((resolve) => stream.onClose(resolve));
}
