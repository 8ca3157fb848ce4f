import type { ByteStream } from '../../src/runtime/runtime.js';

/**
 * A stream to a pretend peer at 127.0.0.9 that only hands what is written to `writev` (and
 * `write`, as a one-chunk writev); it never receives, drains or closes.
 */
export function fakeStream(writev: ByteStream['writev']): ByteStream {
  return {
    remoteAddress: '127.0.0.9',
    remotePort: 6881,
    localAddress: '127.0.0.1',
    localPort: 6881,
    write: (data) => writev([data]),
    writev,
    onData: () => {},
    onDrain: () => {},
    onClose: () => {},
    pause: () => {},
    resume: () => {},
    end: () => {},
    destroy: () => {},
  };
}
