import type { TestContext } from 'node:test';
import { ConnectionManager } from '../../src/net/connection-manager.js';
import { Dialer, type EncryptionPolicy } from '../../src/net/dialer.js';
import { TcpTransport } from '../../src/net/transport.js';
import type { Runtime } from '../../src/runtime/runtime.js';

/** A dialer over TCP only, with a connection manager stopped when the test ends. */
export function tcpDialer(
  t: TestContext,
  runtime: Runtime,
  encryption: EncryptionPolicy,
): { dialer: Dialer; connections: ConnectionManager } {
  const connections = new ConnectionManager(runtime.clock, runtime.timers);
  t.after(() => connections.stop());
  const dialer = new Dialer({
    connections,
    transports: [new TcpTransport(runtime)],
    encryption,
    random: runtime.random,
    timers: runtime.timers,
  });
  return { dialer, connections };
}
