import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Dht } from '../../src/dht/dht.js';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import { runShoal, startShoal, tempDir } from '../interop/helpers.js';

/** A DHT node of the test's own on loopback: the private DHT both processes bootstrap from. */
async function privateDht(t: { after(fn: () => unknown): void }): Promise<string> {
  const dht = await Dht.start(createRealRuntime(new EgressPolicy('loopback')), {
    host: '127.0.0.1',
    port: 0,
    bootstrap: [],
  });
  t.after(() => dht.stop());
  return `127.0.0.1:${dht.port}`;
}

test('two shoal processes that know only each other’s key and a DHT node connect and ping', async (t) => {
  const bootstrap = await privateDht(t);
  const [dirA, dirB] = [await tempDir(t), await tempDir(t)];
  const common = ['--host', '127.0.0.1', '--dht-bootstrap', bootstrap, '--json'];
  const b = startShoal(t, ['start', '--port', '0', '--no-api', '--data-dir', dirB, ...common], {
    name: 'shoal start (b)',
  });
  const started = await b.waitForEvent('started', 20_000);
  const keyB = String(started.identity);
  assert.match(keyB, /^shoal_[a-z2-7]{52}$/);
  const published = await b.waitForEvent('published', 30_000);
  assert.deepEqual(published.rendezvous, [], 'a reachable node needs no rendezvous');
  assert.equal((published.addresses as string[]).length, 1);

  // A knows nothing but B's key and the DHT node.
  const idA = await runShoal(['id', '--data-dir', dirA, '--json']);
  const keyA = String(JSON.parse(idA.stdout).identity);
  const ping = startShoal(
    t,
    ['ping', keyB, '--data-dir', dirA, '-c', '3', '--interval', '50', ...common],
    {
      name: 'shoal ping',
    },
  );
  assert.equal(await ping.waitExit(30_000), 0, ping.tail());
  const connected = ping.event('connected')!;
  assert.equal(connected.identity, keyB);
  assert.equal(connected.self, keyA, 'the ping ran as the data folder’s identity');
  assert.equal(connected.kind, 'direct');
  const pongs = ping.events().filter((e) => e.event === 'pong');
  assert.equal(pongs.length, 3);
  for (const p of pongs) assert.ok(Number(p.rttMs) >= 0 && Number(p.rttMs) < 1000);
  const seen = await b.waitForEvent('securePeer', 5_000);
  assert.equal(seen.identity, keyA, 'b saw a by its key');
  assert.deepEqual(seen.connections, { direct: 1, punched: 0, relayed: 0 });

  const connect = await runShoal(['connect', keyB, '--data-dir', dirA, ...common]);
  assert.equal(connect.code, 0, connect.stderr);
  assert.equal(JSON.parse(connect.stdout.trim().split('\n')[0]!).kind, 'direct');
});

test('shoal ping of a key nobody published fails clearly', async (t) => {
  const bootstrap = await privateDht(t);
  const dir = await tempDir(t);
  const unknown = (await runShoal(['id', '--data-dir', await tempDir(t)])).stdout.trim();
  const r = await runShoal([
    'ping',
    unknown,
    '--host',
    '127.0.0.1',
    '--data-dir',
    dir,
    '--dht-bootstrap',
    bootstrap,
    '--timeout',
    '10',
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /shoal: nothing says where shoal_\w+ is: the DHT has no record of it/);
  const bad = await runShoal(['ping', 'shoal_notakey', '--data-dir', dir, '--no-dht']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /is not a shoal key/);
});
