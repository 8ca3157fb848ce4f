import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const src = join(root, 'src');

/**
 * The layers of docs/ARCHITECTURE.md, lowest first: a module may import only from its own rank
 * or below. Folders not listed fail the test, so a new folder must be placed deliberately.
 */
export const RANKS: readonly (readonly string[])[] = [
  ['errors'],
  ['runtime'],
  ['metrics', 'shared'],
  ['codec'],
  ['crypto'],
  ['metainfo'],
  ['transport'],
  ['net'],
  ['wire', 'secure'],
  ['storage'],
  ['swarm', 'dht', 'tracker', 'discovery', 'overlay', 'apps', 'peers'],
  ['node'],
  ['cli', 'sim', 'api', 'web', 'index'],
];

/** The rank of a path under src/ (its first component), or undefined when unplaced. */
export function rankOf(pathUnderSrc: string): number | undefined {
  const top = pathUnderSrc.split(/[\\/]/)[0]!.replace(/\.[jt]s$/, '');
  const i = RANKS.findIndex((r) => r.includes(top));
  return i < 0 ? undefined : i;
}

/** The upward or unplaced imports of one file (paths relative to src/). */
export function violations(file: string, text: string): string[] {
  const out: string[] = [];
  const from = rankOf(file);
  if (from === undefined) return [`${file}: its folder has no layer`];
  const re = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"](\.[^'"]+)['"]/g;
  for (const m of text.matchAll(re)) {
    const target = relative(src, resolve(join(src, dirname(file)), m[1]!));
    const to = rankOf(target);
    if (to === undefined) out.push(`${file} imports ${target}, which has no layer`);
    else if (to > from) out.push(`${file} (${RANKS[from]![0]}) imports ${target} (higher)`);
  }
  return out;
}

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

test('imports only point down the layers', async () => {
  const files = await sources(src);
  assert.ok(files.length > 50, 'found the sources');
  const found: string[] = [];
  for (const file of files)
    found.push(...violations(relative(src, file), await readFile(file, 'utf8')));
  assert.deepEqual(found, []);
});

test('the layer check catches an upward import', () => {
  assert.deepEqual(violations('codec/x.ts', "import { Torrent } from '../swarm/torrent.js';"), [
    'codec/x.ts (codec) imports swarm/torrent.js (higher)',
  ]);
  assert.deepEqual(
    violations('swarm/x.ts', "import type { Bitfield } from '../codec/bitfield.js';"),
    [],
  );
  assert.deepEqual(violations('swarm/x.ts', "import { a } from './y.js';"), []);
  assert.equal(violations('nowhere/x.ts', '').length, 1);
});
