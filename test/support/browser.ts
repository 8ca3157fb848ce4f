import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

/** Debian's Chromium, which the web UI test and benchmark drive. */
export const CHROMIUM = '/usr/bin/chromium';

/** Why Chromium cannot be used here, or undefined when it can. */
export function chromiumProblem(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing (apt-get install chromium)`;
}

/**
 * Headless Chromium with a fresh profile, no network of its own (no updates, sync or
 * background fetches), closed and its profile removed when the test ends.
 */
export async function launchChromium(t: {
  after(fn: () => unknown): void;
}): Promise<BrowserContext> {
  const profile = await mkdtemp(join(tmpdir(), 'shoal-chromium-'));
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
  t.after(async () => {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  });
  return context;
}
