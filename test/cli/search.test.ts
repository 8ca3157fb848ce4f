import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { SearchResult } from '../../src/apps/search/result-set.js';
import { resultJson, resultLine, timeoutOf } from '../../src/cli/commands/search.js';
import { tempDir } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../src/bin/shoal.js', import.meta.url));
const run = async (args: string[]) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

const result: SearchResult = {
  torrentKey: `${'07'.repeat(20)}/`,
  infoHashV1: Buffer.alloc(20, 7),
  name: 'Field Recordings Vol 3.flac',
  size: 1_234_567,
  files: 1,
  tags: [],
  sources: 3,
  seedersClaimed: 0,
  match: 1,
  support: 2,
  magnet: 'magnet:?xt=urn:btih:0707070707070707070707070707070707070707&dn=x',
  foundAfterMs: 120,
};

test('a result prints as name, size, sources and magnet, or as one JSON object', () => {
  assert.match(
    resultLine(result, 1),
    /^ {2}1\. Field Recordings Vol 3\.flac {2}1\.18 MiB {2}3 sources\n {5}magnet:\?xt=urn:btih:07/,
  );
  const json = resultJson(result, 2);
  assert.equal(json.n, 2);
  assert.equal(json.infoHash, '07'.repeat(20));
  assert.equal(json.sources, 3);
  assert.equal(timeoutOf('2.5'), 2500);
  assert.equal(timeoutOf(undefined), 10_000);
});

test('shoal search and get --search refuse bad flags before starting anything', async (t) => {
  const dir = await tempDir(t);
  const bad = await run(['search', 'field', '--timeout', 'soon', '--data-dir', dir]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--timeout takes seconds/);
  const strategy = await run(['search', 'field', '--strategy', 'guess', '--data-dir', dir]);
  assert.equal(strategy.code, 2);
  assert.match(strategy.stderr, /--strategy is one of ultrapeer, flood, walk/);
  const pick = await run(['get', '--search', 'zero', 'field recordings', '--data-dir', dir]);
  assert.equal(pick.code, 2);
  assert.match(pick.stderr, /--search takes a result number/);
});
