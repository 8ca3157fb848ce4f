import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled shoal CLI. */
export const CLI = fileURLToPath(new URL('../../src/bin/shoal.js', import.meta.url));

/**
 * Starts `shoal start` (peer port and API port both free ones, downloads under `dataDir`) for a
 * test; resolves with its API URL once it listens. Stopped with SIGTERM when the test ends.
 */
export async function startDaemon(
  t: { after(fn: () => unknown): void },
  dataDir: string,
): Promise<{ api: string; child: ChildProcess }> {
  await writeFile(
    join(dataDir, 'config.json'),
    JSON.stringify({ downloadDir: join(dataDir, 'downloads') }),
  );
  const args = ['start', '--port', '0', '--host', '127.0.0.1', '--no-dht', '--data-dir', dataDir];
  const child = spawn(process.execPath, [CLI, ...args, '--api-port', '0'], {
    env: { ...process.env, SHOAL_EGRESS: 'loopback' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.after(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  let out = '';
  const api = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon did not start: ${out}`)), 20_000);
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      out += s;
    });
    child.stdout!.on('data', (s: string) => {
      out += s;
      const m = /API on (http:\/\/\S+);/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', () => reject(new Error(`daemon exited: ${out}`)));
  });
  return { api, child };
}
