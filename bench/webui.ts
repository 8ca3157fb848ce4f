/**
 * Web UI benchmark: a daemon front (`ApiServer`) over a fake `NodeControl` holding 10,000
 * torrents (1 in 100 downloading, their rates and progress moving every second; the fake stands
 * in for a node, which could not hold 10,000 real torrents on this machine), measured two ways:
 *
 * - first paint of the list in headless Chromium: milliseconds from navigation start to the
 *   first frame that drew rows (the UI's `shoal-list-painted` mark), target ≤ 1500 ms;
 * - steady-state event traffic: bytes per second on `/api/events` after the snapshot, target
 *   ≤ 50 KB/s.
 *
 * `SHOAL_WEBUI_TORRENTS` and `SHOAL_WEBUI_SECONDS` shrink it for a quick check.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { ApiServer, DEFAULT_WEB_DIR } from '../src/api/server.js';
import { EgressPolicy } from '../src/runtime/egress.js';
import { createRealRuntime } from '../src/runtime/real.js';
import { CHROMIUM } from '../test/support/browser.js';
import { FakeControl } from '../test/support/fake-control.js';

const TOKEN = 'ab'.repeat(32);
const PAINT_TARGET_MS = 1500;
const TRAFFIC_TARGET = 50_000;

/** Runs the benchmark and prints its figures; a missed target sets a failing exit code. */
export async function run(): Promise<void> {
  const count = Number(process.env.SHOAL_WEBUI_TORRENTS ?? 10_000);
  const seconds = Number(process.env.SHOAL_WEBUI_SECONDS ?? 10);
  const control = FakeControl.withTorrents(count, 100);
  const server = await ApiServer.start({
    runtime: createRealRuntime(new EgressPolicy('loopback')),
    control,
    settings: { enabled: true, host: '127.0.0.1', port: 0 },
    token: TOKEN,
    version: 'bench',
    webDir: DEFAULT_WEB_DIR,
  });
  const stepper = setInterval(() => control.step(), 1000);
  const url = `http://127.0.0.1:${server.port}/`;
  const profile = await mkdtemp(join(tmpdir(), 'shoal-bench-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
      viewport: { width: 1280, height: 800 },
    });
    const paints: number[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const page = await context.newPage();
        await page.goto(url);
        await page.waitForFunction(
          () => performance.getEntriesByName('shoal-list-painted').length > 0,
          undefined,
          { timeout: 30_000 },
        );
        paints.push(
          await page.evaluate(
            () => performance.getEntriesByName('shoal-list-painted')[0]!.startTime,
          ),
        );
        const rows = await page.locator('.spacer-rows .row:not([hidden])').count();
        if (rows === 0) throw new Error('the list drew no rows');
        await page.close();
      }
    } finally {
      await context.close();
    }
    const traffic = await eventTraffic(server.port, seconds);
    const paint = [...paints].sort((a, b) => a - b)[1]!;
    process.stdout.write(
      `torrents ${count}: first paint of the list ${paints.map((p) => p.toFixed(0)).join(' / ')} ms (median ${paint.toFixed(0)}, target ≤ ${PAINT_TARGET_MS})\n` +
        `snapshot ${(traffic.snapshotBytes / 1024).toFixed(0)} KiB; steady-state events ${(traffic.perSecond / 1000).toFixed(1)} KB/s over ${seconds} s (target ≤ ${TRAFFIC_TARGET / 1000})\n`,
    );
    if (paint > PAINT_TARGET_MS || traffic.perSecond > TRAFFIC_TARGET) process.exitCode = 1;
  } finally {
    clearInterval(stepper);
    await server.close();
    await rm(profile, { recursive: true, force: true });
  }
}

/** Bytes per second on the event stream after its snapshot, over `seconds`. */
function eventTraffic(
  port: number,
  seconds: number,
): Promise<{ snapshotBytes: number; perSecond: number }> {
  return new Promise((resolve, reject) => {
    let snapshotBytes = 0;
    let after = 0;
    let started = 0;
    let buffered = '';
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/events',
        headers: { authorization: `Bearer ${TOKEN}` },
      },
      (res) => {
        res.on('data', (chunk: Buffer) => {
          if (started === 0) {
            buffered += chunk.toString('utf8');
            snapshotBytes += chunk.length;
            const end = buffered.indexOf('\n\n', buffered.indexOf('event: snapshot'));
            if (buffered.includes('event: snapshot') && end >= 0) {
              after = Buffer.byteLength(buffered.slice(end + 2));
              snapshotBytes -= after;
              started = performance.now();
              setTimeout(() => {
                req.destroy();
                resolve({
                  snapshotBytes,
                  perSecond: (after * 1000) / (performance.now() - started),
                });
              }, seconds * 1000);
            }
          } else {
            after += chunk.length;
          }
        });
      },
    );
    req.on('error', (e) => {
      if (started === 0) reject(e);
    });
    req.end();
  });
}
