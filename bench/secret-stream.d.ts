/** The parts of `@hyperswarm/secret-stream` (no types of its own) the `secure` benchmark uses. */
declare module '@hyperswarm/secret-stream' {
  import type { Duplex } from 'node:stream';

  /** Noise XX (ed25519 via noise-curve-ed) then libsodium secretstream, over a raw stream. */
  class NoiseSecretStream extends Duplex {
    constructor(isInitiator: boolean, rawStream: Duplex);
    /** Resolves true once the handshake is done. */
    readonly opened: Promise<boolean>;
  }
  export = NoiseSecretStream;
}
