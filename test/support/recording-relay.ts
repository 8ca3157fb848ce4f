/**
 * A shoal node for NAT tests that also records every byte it relays for others: run as
 * `node recording-relay.js <dataDir> <dumpFile>`. It listens on any port of every address,
 * runs a DHT with no bootstrap (it is the others' bootstrap node), prints `{"event":"started",
 * "port", "identity"}` and then one `{"event":"securePeer", …}` line per secure connection, and appends
 * to `dumpFile` each payload it forwards on a relay channel — what a curious relay operator
 * could read — so a test can check that no plaintext is in it. Stops on SIGTERM.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultConfig } from '../../src/node/config.js';
import { Node } from '../../src/node/node.js';
import { RELAY_PROTOCOL, RELAYED_PROTOCOL } from '../../src/peers/relay.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import { Channel } from '../../src/secure/channel.js';

const [dataDir, dumpFile] = process.argv.slice(2);
if (dataDir === undefined || dumpFile === undefined) {
  process.stderr.write('usage: recording-relay <dataDir> <dumpFile>\n');
  process.exit(2);
}
const send = Channel.prototype.send;
Channel.prototype.send = function (this: Channel, type: number, payload: Uint8Array) {
  if (this.protocol === RELAY_PROTOCOL || this.protocol === RELAYED_PROTOCOL)
    appendFileSync(dumpFile, payload);
  return send.call(this, type, payload);
};
const node = await Node.start(createRealRuntime(), {
  ...defaultConfig(),
  dataDir,
  downloadDir: join(dataDir, 'downloads'),
  port: 0,
  host: '0.0.0.0',
  hashWorkers: 1,
  dhtBootstrap: [],
});
const say = (event: string, fields: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
node.on('securePeer', (peer) =>
  say('securePeer', { identity: peer.key.toString(), kind: peer.kind, via: peer.via?.toString() }),
);
say('started', { port: node.port, identity: node.key.toString() });
process.once('SIGTERM', () => void node.stop().then(() => process.exit(0)));
