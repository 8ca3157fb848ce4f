/**
 * Shared harness for interoperability tests against real BitTorrent clients: libtorrent through
 * its Python bindings, aria2, rtorrent, and Transmission (command-line tools, and transmission-daemon in
 * a network namespace of the test's own). Every process a test starts is stopped, and every
 * folder and namespace it makes is removed, when the test ends, pass or fail; peers listen on
 * loopback or namespace addresses only. Tests run from `dist/test/interop/`.
 */

export * from './aria2-peer.js';
export * from './harness.js';
export * from './libtorrent-peer.js';
export * from './netns.js';
export * from './opentracker.js';
export * from './rtorrent-peer.js';
export * from './shoal-peer.js';
export * from './transfer-fixture.js';
export * from './transmission-peer.js';
