/**
 * The web UI in headless Chromium against a real `shoal start`: it loads, adds a torrent by
 * magnet (an in-process shoal seeder on loopback serves it), shows progress rising to 100%,
 * opens the files pane, switches theme and removes the torrent with its data, with no console
 * errors. Screenshots go to test-artifacts/web/ (ignored by git).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { requireTool } from '../interop/helpers.js';
import { chromiumProblem, launchChromium } from '../support/browser.js';
import { startDaemon } from '../support/daemon.js';
import { fixtureTorrent, startNode } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/web/', import.meta.url));

test('the web UI adds a magnet, shows progress to 100%, opens files, removes it', async (t) => {
  if (!requireTool(t, 'chromium', chromiumProblem)) return;
  await mkdir(ARTIFACTS, { recursive: true });
  const shot = (page: { screenshot(o: { path: string }): Promise<unknown> }, name: string) =>
    page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });

  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(
    dir,
    'holiday photos',
    { 'beach.jpg': 1_500_000, 'sunset.jpg': 900_000, 'notes/readme.txt': 40_000 },
    { version: 'v1', pieceLength: 16384 },
  );
  const hash = parseTorrent(torrent).infoHashV1!.toString('hex');
  const seeder = await startNode(t, { uploadLimit: 600 * 1024 });
  await seeder.add(torrent, { downloadDir: dir });
  const dataDir = await tempDir(t, 'shoal-daemon-');
  const { api } = await startDaemon(t, dataDir);

  const context = await launchChromium(t);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(api);
  assert.equal(await page.title(), 'shoal');
  await page.locator('#empty').waitFor({ state: 'visible' });
  await page.locator('#status', { hasText: 'connected' }).waitFor();
  await shot(page, '1-empty');

  // Add by magnet through the dialog.
  await page.keyboard.press('a');
  const magnet = `magnet:?xt=urn:btih:${hash}&dn=holiday%20photos&x.pe=127.0.0.1:${seeder.port}`;
  await page.locator('#add-link').fill(magnet);
  await page.locator('#add-submit').click();
  const row = page.locator(`.row[data-id="${hash}"]`);
  await row.waitFor();
  assert.match((await row.locator('.c-name').textContent()) ?? '', /holiday photos/);

  // Progress rises, as the event stream reports it, up to 100%.
  const seen = new Set<string>();
  const deadline = Date.now() + 60_000;
  for (;;) {
    const pct = (await row.locator('.pct').textContent()) ?? '';
    seen.add(pct);
    if (seen.size === 3) await shot(page, '2-downloading');
    if (pct === '100.0%') break;
    assert.ok(Date.now() < deadline, `no 100% after 60 s; saw ${[...seen].join(' ')}`);
    await page.waitForTimeout(150);
  }
  const between = [...seen].filter((p) => p !== '0.0%' && p !== '100.0%');
  assert.ok(between.length > 0, `progress was seen between 0 and 100%: ${[...seen].join(' ')}`);
  await row.locator('.c-state', { hasText: 'seeding' }).waitFor();
  await shot(page, '3-done');

  // Keyboard: select, open the detail pane, show the files.
  await page.locator('#viewport').focus();
  await page.keyboard.press('ArrowDown');
  assert.equal(await row.getAttribute('aria-selected'), 'true');
  await page.keyboard.press('Enter');
  await page.locator('#detail').waitFor({ state: 'visible' });
  await page.locator('[data-tab="files"]').click();
  const files = page.locator('table.files tbody tr');
  await files.first().waitFor();
  assert.equal(await files.count(), 3);
  const fileText = await page.locator('table.files').textContent();
  for (const name of ['beach.jpg', 'sunset.jpg', 'notes/readme.txt'])
    assert.ok(fileText?.includes(name), `${name} in the files pane`);
  assert.ok(fileText?.includes('100.0%'));
  await shot(page, '4-files');
  await page.locator('[data-tab="speed"]').click();
  await page.locator('#graph').waitFor({ state: 'visible' });
  await page.locator('#theme-button').click();
  assert.equal(await page.locator('html').getAttribute('data-theme'), 'dark');
  await shot(page, '5-speed-dark');

  // Remove with its files.
  await page.locator('#viewport').focus();
  await page.keyboard.press('Delete');
  await page.locator('#remove-dialog').waitFor({ state: 'visible' });
  await page.locator('#remove-data').check();
  await page.locator('#remove-submit').click();
  await page.locator('#empty').waitFor({ state: 'visible' });
  await shot(page, '6-removed');
  assert.ok(!existsSync(join(dataDir, 'downloads', 'holiday photos')), 'files deleted');
  assert.deepEqual(problems, [], 'no console errors or warnings');
});
