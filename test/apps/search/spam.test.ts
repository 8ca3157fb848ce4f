import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keywords } from '../../../src/apps/search/keywords.js';
import { signRecord } from '../../../src/apps/search/record.js';
import type { StrategyName } from '../../../src/apps/search/search-engine.js';
import {
  decodeSearch,
  makeHit,
  QueryMode,
  SEARCH_PROTOCOL,
} from '../../../src/apps/search/search-messages.js';
import { itemKey, type SharedItem } from '../../../src/apps/search/share-index.js';
import { Identity } from '../../../src/crypto/identity.js';
import type { SearchNode, SearchWorld as World } from '../../../src/sim/search-world.js';
import { SearchWorld } from '../../../src/sim/search-world.js';
import { SIM_EPOCH_MS, Simulator } from '../../../src/sim/simulator.js';

const honest: SharedItem[] = [
  'Field Recordings Vol 3.flac',
  'Field Recordings Vol 1.flac',
  'Field Recordings of the North Sea.ogg',
].map((name, i) => ({ infoHashV1: Buffer.alloc(20, 0xa0 + i), name, size: 1e8, files: [name] }));
const honestKeys = new Set(honest.map(itemKey));

/**
 * A world of 100 nodes where one node answers every query it sees with 20 junk records whose
 * names echo the query: `freshKeys` signs each answer under a key made for it, otherwise under
 * its own key.
 */
async function spamWorld(seed: number, freshKeys: boolean) {
  const sim = new Simulator(seed);
  const world = new SearchWorld(sim, {
    capableShare: 0.2,
    items: 40,
    topShare: 0.1,
    zipf: 1,
    vocabulary: 200,
    detectMs: 10_000,
    search: { ultrapeer: { minUptimeMs: 10_000, promoteAfterMs: 5_000 } },
  });
  for (let i = 0; i < 100; i++) {
    sim.at(i * 50, () => {
      const node = world.addNode(true);
      if (i === 10 || i === 20) node.engine.share(honest[0]!);
      if (i === 30) node.engine.share(honest[1]!);
      if (i === 40) node.engine.share(honest[2]!);
    });
  }
  let junkSent = 0;
  sim.at(60 * 50 + 25, () => {
    const spammer = world.addNode(true);
    spammer.links.intercept(SEARCH_PROTOCOL, (from, type, payload, next) => {
      next();
      const m = decodeSearch(type, payload);
      if (m.type !== 'query') return;
      const signer = freshKeys ? Identity.generate(sim.random) : spammer.identity;
      const records = Array.from({ length: 20 }, (_, k) =>
        signRecord(signer, {
          infoHashV1: sim.random.bytes(20),
          name: `${m.words.join(' ')} FULL VERSION ${k}.exe`,
          size: 1e6,
          files: 1,
          seeders: 1_000_000,
          timestamp: Math.floor((SIM_EPOCH_MS + sim.now) / 1000),
          tags: [],
        }),
      );
      const hit = makeHit(signer, m.id, [], records);
      const to = m.mode === QueryMode.ultrapeer ? from : (m.origin ?? from);
      junkSent++;
      spammer.links.send(to, SEARCH_PROTOCOL, hit.type, hit.payload);
    });
  });
  await sim.run(100 * 50 + 60_000);
  return { sim, world, junkSent: () => junkSent };
}

async function searchAll(
  sim: Simulator,
  world: World,
  strategy: StrategyName,
): Promise<{ pages: string[][]; honestFound: number; junkFound: number }> {
  const pages: string[][] = [];
  let honestFound = 0;
  let junkFound = 0;
  for (let q = 0; q < 5; q++) {
    const origin: SearchNode = world.live[(q * 17 + 3) % world.live.length]!;
    const session = origin.engine.search('field recordings', { strategy, timeoutMs: 5000 });
    await sim.run(sim.now + 5500);
    const ranked = session.ranked();
    const found = ranked.filter((r) => honestKeys.has(r.torrentKey));
    honestFound += found.length;
    junkFound += ranked.length - found.length;
    pages.push(ranked.slice(0, 10).map((r) => r.torrentKey));
    // Every honest result found outranks every junk result.
    const lastHonest = Math.max(-1, ...found.map((r) => ranked.indexOf(r)));
    const firstJunk = ranked.findIndex((r) => !honestKeys.has(r.torrentKey));
    if (firstJunk >= 0 && found.length > 0)
      assert.ok(
        lastHonest < firstJunk,
        `${strategy}: junk at ${firstJunk} above honest at ${lastHonest}`,
      );
    for (const r of found)
      assert.ok(ranked.indexOf(r) < 10, `${strategy}: honest result off page 1`);
    assert.ok(keywords(ranked[0]?.name ?? 'field recordings').includes('field'));
  }
  return { pages, honestFound, junkFound };
}

test('spam under the spammer’s own key: its junk shares one vote and ranks below every honest result', async () => {
  const { sim, world, junkSent } = await spamWorld(21, false);
  for (const strategy of ['ultrapeer', 'flood', 'walk'] as const) {
    const { honestFound, junkFound } = await searchAll(sim, world, strategy);
    assert.ok(honestFound >= 5, `${strategy}: honest results found ${honestFound}`);
    // Flooding reaches the spammer: its junk is merged, and still ranks last.
    if (strategy === 'flood') assert.ok(junkFound > 0, 'junk reached the results');
  }
  assert.ok(junkSent() > 0, 'the spammer was asked and answered');
});

test('spam under fresh keys: answers whose key is not who delivered them are dropped', async () => {
  const { sim, world, junkSent } = await spamWorld(22, true);
  for (const strategy of ['ultrapeer', 'flood', 'walk'] as const) {
    const { pages, honestFound } = await searchAll(sim, world, strategy);
    assert.ok(honestFound >= 5, `${strategy}: honest results found ${honestFound}`);
    for (const page of pages)
      for (const key of page) assert.ok(honestKeys.has(key), `${strategy}: junk on a page`);
  }
  assert.ok(junkSent() > 0, 'the spammer was asked and answered');
});
