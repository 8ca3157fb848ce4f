import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Identity, type IdentityKey } from '../../src/crypto/identity.js';
import type { ConnectionKind, PeerConnection } from '../../src/peers/peer-connection.js';
import { PeerTable, preferred } from '../../src/peers/peer-table.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';

const [low, high] = (() => {
  const random = new SeededRandom(11);
  const ids = [Identity.generate(random), Identity.generate(random)];
  return ids.sort((x, y) => Buffer.compare(x.publicKey.bytes, y.publicKey.bytes));
})() as [Identity, Identity];

/** A stand-in connection: what the table's rule looks at, and close. */
function fake(
  local: IdentityKey,
  remote: IdentityKey,
  kind: ConnectionKind,
  initiator: boolean,
  openedAt: number,
): PeerConnection & { closedBy: boolean } {
  const handlers: (() => void)[] = [];
  const c = {
    key: remote,
    localKey: local,
    kind,
    initiator,
    openedAt,
    closedBy: false,
    isClosed: false,
    mux: { handle: () => undefined },
    onClose: (h: () => void) => handlers.push(h),
    close() {
      c.closedBy = true;
      c.isClosed = true;
      for (const h of handlers) h();
    },
  };
  return c as unknown as PeerConnection & { closedBy: boolean };
}

test('both ends pick the same connection: direct over relayed, then the lower initiator', () => {
  // The same two connections seen from each end.
  const onLow = {
    lowDialled: fake(low.publicKey, high.publicKey, 'direct', true, 1),
    highDialled: fake(low.publicKey, high.publicKey, 'direct', false, 2),
  };
  const onHigh = {
    lowDialled: fake(high.publicKey, low.publicKey, 'direct', false, 3),
    highDialled: fake(high.publicKey, low.publicKey, 'direct', true, 1),
  };
  assert.equal(preferred(onLow.lowDialled, onLow.highDialled), onLow.lowDialled);
  assert.equal(preferred(onHigh.highDialled, onHigh.lowDialled), onHigh.lowDialled);
  const relayed = fake(low.publicKey, high.publicKey, 'relayed', true, 5);
  const punched = fake(low.publicKey, high.publicKey, 'punched', false, 1);
  assert.equal(preferred(relayed, punched), punched, 'relayed loses whoever dialled');
  const older = fake(low.publicKey, high.publicKey, 'direct', true, 1);
  const newer = fake(low.publicKey, high.publicKey, 'direct', true, 9);
  assert.equal(preferred(older, newer), newer, 'the same initiator dialled again: the newer');
});

test('the table keeps one connection per key and closes the other', () => {
  const table = new PeerTable();
  const seen: PeerConnection[] = [];
  table.onPeer((p) => seen.push(p));
  const relayed = fake(low.publicKey, high.publicKey, 'relayed', true, 1);
  const direct = fake(low.publicKey, high.publicKey, 'direct', false, 2);
  assert.equal(table.add(relayed), relayed);
  const waiting = table.waitFor(high.publicKey);
  assert.equal(table.add(direct), direct, 'a direct connection replaces a relayed one');
  assert.ok(relayed.closedBy);
  assert.equal(table.get(high.publicKey), direct);
  const late = fake(low.publicKey, high.publicKey, 'relayed', true, 3);
  assert.equal(table.add(late), direct, 'a worse one is closed at once');
  assert.ok(late.closedBy);
  assert.deepEqual(seen, [relayed, direct]);
  assert.deepEqual(table.countByKind(), { direct: 1, punched: 0, relayed: 0 });
  direct.close();
  assert.equal(table.size, 0);
  return waiting.peer.then((p) => assert.equal(p, direct));
});
