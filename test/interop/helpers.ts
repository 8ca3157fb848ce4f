/**
 * Shared harness for interoperability tests against real BitTorrent clients (libtorrent through
 * its Python bindings, Transmission's command-line tools). Tests run from `dist/test/interop/`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The subset of a node:test context the helpers need. */
interface TestContext {
  skip(message?: string): void;
  after(fn: () => unknown): void;
}

/** Output of a finished child process. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The Python that has `libtorrent` (Debian's python3-libtorrent); not whatever is on PATH. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/** The compiled shoal CLI, found relative to this compiled file (dist/test/interop → dist/src/cli). */
export const SHOAL_CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Ready-made probes for {@link requireTool}: a command that exits 0 when the tool is usable. */
export const PROBES = {
  libtorrent: [SYSTEM_PYTHON, '-c', 'import libtorrent'],
  'transmission-create': ['transmission-create', '--version'],
  'transmission-show': ['transmission-show', '--version'],
} satisfies Record<string, readonly string[]>;

const probed = new Map<string, string | undefined>();

/**
 * Why `probe` (a command line run synchronously, or a function returning a failure reason)
 * says the tool is unusable, or `undefined` when it is usable. Results are cached by `name`.
 */
export function toolProblem(
  name: string,
  probe: readonly string[] | (() => string | undefined),
): string | undefined {
  if (probed.has(name)) return probed.get(name);
  let problem: string | undefined;
  if (typeof probe === 'function') {
    problem = probe();
  } else {
    const [cmd, ...args] = probe;
    const r = spawnSync(cmd!, args, { encoding: 'utf8', timeout: 30_000 });
    if (r.error) problem = `${probe.join(' ')}: ${r.error.message}`;
    else if (r.status !== 0)
      problem = `${probe.join(' ')} exited with ${r.status}: ${r.stderr.trim()}`;
  }
  probed.set(name, problem);
  return problem;
}

/**
 * Decides whether test `t` can use the client `name`. Returns true when `probe` succeeds.
 * When it fails the test is skipped with the reason — except in CI (`process.env.CI` set),
 * where a missing client is an error and this throws, failing the test.
 */
export function requireTool(
  t: TestContext,
  name: string,
  probe: readonly string[] | (() => string | undefined) = PROBES[name as keyof typeof PROBES] ?? [
    name,
    '--version',
  ],
): boolean {
  const problem = toolProblem(name, probe);
  if (problem === undefined) return true;
  const reason = `${name} is not available (${problem})`;
  if (process.env.CI) throw new Error(`${reason}; interop tools are required in CI`);
  t.skip(reason);
  return false;
}

/** Makes a fresh temporary folder, removed recursively when test `t` ends. */
export async function tempDir(t: TestContext, prefix = 'shoal-interop-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs `cmd` with `args` to completion (feeding `input` on stdin) and collects its output. */
export function run(
  cmd: string,
  args: readonly string[],
  options: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    child.stdin.end(options.input ?? '');
  });
}

/** Runs the compiled shoal CLI (`node dist/src/cli/main.js ...args`). */
export function runShoal(
  args: readonly string[],
  options: { cwd?: string } = {},
): Promise<RunResult> {
  return run(process.execPath, [SHOAL_CLI, ...args], options);
}

/** `shoal info --json <torrent>`, parsed; throws with stderr when the CLI fails. */
export async function shoalInfo(torrentPath: string): Promise<{
  infoHashV1: string | null;
  infoHashV2: string | null;
  version: string;
  files: { path: string; length: number }[];
}> {
  const r = await runShoal(['info', '--json', torrentPath]);
  if (r.code !== 0) throw new Error(`shoal info ${torrentPath} exited with ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/**
 * Runs a Python `script` (given on stdin) with the system Python, passing `args` as
 * `sys.argv[1:]`, and returns its stdout; throws with stderr when it exits non-zero.
 */
export async function runPython(script: string, args: readonly string[] = []): Promise<string> {
  const r = await run(SYSTEM_PYTHON, ['-', ...args], { input: script });
  if (r.code !== 0) throw new Error(`python exited with ${r.code}:\n${r.stderr}`);
  return r.stdout;
}

/**
 * `length` deterministic pseudo-random bytes for `seed`: SHA-256 in counter mode, so fixtures
 * are identical on every run without any random source.
 */
export function pseudoRandomBytes(seed: string, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let counter = 0, offset = 0; offset < length; counter++, offset += 32) {
    const block = createHash('sha256').update(`${seed}\0${counter}`).digest();
    block.copy(out, offset, 0, Math.min(32, length - offset));
  }
  return out;
}
