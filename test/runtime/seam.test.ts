import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Ambient powers only `src/runtime/` may touch (DESIGN.md §2); everything else takes a Runtime. */
const FORBIDDEN: [RegExp, string][] = [
  [/\bDate\.now\s*\(/, 'Date.now'],
  [/(?<![.\w])setTimeout\s*\(/, 'setTimeout'],
  [/(?<![.\w])setInterval\s*\(/, 'setInterval'],
  [/\bMath\.random\s*\(/, 'Math.random'],
  [/\brandomBytes\b/, 'crypto.randomBytes'],
  [/from\s+['"](node:)?net['"]/, 'node:net'],
  [/from\s+['"](node:)?dgram['"]/, 'node:dgram'],
  [/import\(\s*['"](node:)?(net|dgram)['"]\s*\)/, 'dynamic import of net/dgram'],
  [/require\(\s*['"](node:)?(net|dgram)['"]\s*\)/, 'require of net/dgram'],
  [/from\s+['"](node:)?fs(\/promises)?['"]/, 'node:fs'],
  [/from\s+['"](node:)?worker_threads['"]/, 'node:worker_threads'],
  [/from\s+['"](node:)?https?['"]/, 'node:http'],
  [/(?<![.\w])setImmediate\s*\(/, 'setImmediate'],
  [/\bperformance\.now\s*\(/, 'performance.now'],
  [/\brandomInt\b/, 'crypto.randomInt'],
  [/\bgenerateKeyPair(Sync)?\b/, 'key generation'],
  [/from\s+['"](node:)?child_process['"]/, 'node:child_process'],
];

/**
 * A typed method declaration, such as the simulator's implementation of `Timers`: it defines
 * the name, it does not call Node's timer (a call has no return type after its arguments).
 */
const DECLARATION = /^\s*(setTimeout|setInterval|setImmediate)\(.*\):\s*\w+\s*\{\s*$/;

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

test('only src/runtime/ uses timers, wall-clock time, ambient randomness, sockets, files, threads, processes or key generation', async () => {
  const files = await sources(join(root, 'src'));
  assert.ok(files.length > 10, 'found the sources');
  const violations: string[] = [];
  for (const file of files) {
    const rel = relative(root, file);
    if (rel.startsWith(join('src', 'runtime'))) continue;
    const text = await readFile(file, 'utf8');
    text.split('\n').forEach((line, i) => {
      if (/^\s*(\*|\/\/)/.test(line)) return; // comments may mention them
      if (DECLARATION.test(line)) return;
      for (const [re, what] of FORBIDDEN)
        if (re.test(line)) violations.push(`${rel}:${i + 1}: ${what}`);
    });
  }
  assert.deepEqual(violations, [], 'use the Runtime instead');
});

test('the seam check catches a violation', () => {
  const hits = FORBIDDEN.filter(([re]) =>
    re.test(
      "const t = setTimeout(() => 1, 5); import x from 'node:dgram'; import y from 'node:fs/promises'; setImmediate(f); generateKeyPairSync('ed25519');",
    ),
  );
  assert.deepEqual(
    hits.map(([, w]) => w),
    ['setTimeout', 'node:dgram', 'node:fs', 'setImmediate', 'key generation'],
  );
});

test('a timer method declaration is not a use; a call at the start of a line still is', () => {
  assert.ok(DECLARATION.test('  setTimeout(callback: () => void, delayMs: number): TimerHandle {'));
  assert.ok(!DECLARATION.test('  setTimeout(() => {'));
  assert.ok(!DECLARATION.test('  setInterval(tick, 1000);'));
});
