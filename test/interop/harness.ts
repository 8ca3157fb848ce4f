/** Tools, child processes, temporary folders and free ports for the interop tests. */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The subset of a node:test context the helpers need. */
export interface TestContext {
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
export const SHOAL_CLI = fileURLToPath(new URL('../../src/bin/shoal.js', import.meta.url));

/** Ready-made probes for {@link requireTool}: a command that exits 0 when the tool is usable. */
export const PROBES = {
  libtorrent: [SYSTEM_PYTHON, '-c', 'import libtorrent'],
  'transmission-create': ['transmission-create', '--version'],
  'transmission-show': ['transmission-show', '--version'],
  // `opentracker --version` is not an option it knows: it would start a tracker on port 6969.
  opentracker: ['opentracker', '-h'],
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

const cleanups = new WeakMap<TestContext, (() => unknown)[]>();

/**
 * Runs `fn` when test `t` ends, even when it fails. Deferred work runs last in, first out, so
 * processes started after a folder or namespace was made are stopped before it is removed.
 */
export function defer(t: TestContext, fn: () => unknown): void {
  let stack = cleanups.get(t);
  if (stack === undefined) {
    const s: (() => unknown)[] = [];
    stack = s;
    cleanups.set(t, s);
    t.after(async () => {
      const errors: unknown[] = [];
      while (s.length > 0) {
        try {
          await s.pop()!();
        } catch (error) {
          errors.push(error);
        }
      }
      if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
    });
  }
  stack.push(fn);
}

/**
 * A stand-in test context for work shared by every test of a file (e.g. a fixture made once):
 * what is deferred on it runs after the file's last test. Call it at module top level.
 */
export function fileScope(): TestContext {
  const hooks: (() => unknown)[] = [];
  after(async () => {
    while (hooks.length > 0) await hooks.pop()!();
  });
  return {
    after: (fn) => {
      hooks.push(fn);
    },
    skip: () => undefined,
  };
}

/** Makes a fresh temporary folder, removed recursively when test `t` ends. */
export async function tempDir(t: TestContext, prefix = 'shoal-interop-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  defer(t, () => rm(dir, { recursive: true, force: true }));
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
    // A child that exits without reading its input must not fail the test with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** Runs the compiled shoal CLI (`node dist/src/bin/shoal.js ...args`, the bundle `npm run build` makes). */
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

// ---------------------------------------------------------------- long-running processes

/** How a child process ended: its exit code, or 128 + signal number style codes. */
export type ExitCode = number;

/** A child process started for a test, stopped when the test ends (by its PID only). */
export interface Proc {
  readonly name: string;
  readonly pid: number;
  /** Complete lines printed on stdout so far. */
  readonly lines: readonly string[];
  /** The exit code once the process has ended. */
  readonly exitCode: ExitCode | undefined;
  /** Resolves with the exit code when the process ends. */
  readonly exited: Promise<ExitCode>;
  /** Every stdout line that is a JSON object, parsed. */
  events(): Record<string, unknown>[];
  /** The first JSON event named `name` (`{"event": name, ...}`) printed so far. */
  event(name: string): Record<string, unknown> | undefined;
  /** Waits (polling) for the first JSON event named `name`; fails if the process ends first. */
  waitForEvent(name: string, timeoutMs: number): Promise<Record<string, unknown>>;
  /** Waits (polling) for a stdout line matching `pattern`; fails if the process ends first. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Waits for the process to end on its own; fails (naming the output) after `timeoutMs`. */
  waitExit(timeoutMs: number): Promise<ExitCode>;
  /** The end of stdout and stderr, for failure messages. */
  tail(chars?: number): string;
  /** SIGTERM, then SIGKILL if it has not ended within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Resolves after `ms` milliseconds. */
export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` every `intervalMs` until it returns something other than `undefined`, and
 * returns that. `abort` is checked first on every round: a string it returns fails the wait
 * at once (e.g. the process being waited for has exited). Throws after `timeoutMs`.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  options: { intervalMs?: number; abort?: () => string | undefined; detail?: () => string } = {},
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const why = options.abort?.();
    if (why !== undefined) throw new Error(`${why} while waiting for ${what}${detail()}`);
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${detail()}`);
    }
    await delay(options.intervalMs ?? 100);
  }
  function detail(): string {
    const d = options.detail?.();
    return d ? `\n${d}` : '';
  }
}

/**
 * Starts `cmd args` for test `t` with stdin closed, collecting its output. The process is
 * stopped (SIGTERM, then SIGKILL) when the test ends, whatever the outcome.
 */
export function startProcess(
  t: TestContext,
  name: string,
  cmd: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Proc {
  const child = spawn(cmd, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  let errors = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (s: string) => {
    const parts = (partial + s).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr.on('data', (s: string) => {
    errors = (errors + s).slice(-16 * 1024);
  });
  let exitCode: ExitCode | undefined;
  let spawnError: Error | undefined;
  const exited = new Promise<ExitCode>((resolve) => {
    child.on('error', (error) => {
      spawnError = error;
      exitCode = 127;
      resolve(127);
    });
    child.on('close', (code, signal) => {
      if (partial !== '') lines.push(partial);
      partial = '';
      exitCode = code ?? (signal ? 128 : 1);
      resolve(exitCode);
    });
  });
  const parsed = () => {
    const out: Record<string, unknown>[] = [];
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        const v: unknown = JSON.parse(line);
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
          out.push(v as Record<string, unknown>);
        }
      } catch {
        // not JSON: ignore
      }
    }
    return out;
  };
  // Output for failure messages: stdout without all but the last progress line, then stderr.
  const tail = (chars = 4000) => {
    const isProgress = (l: string) => /"event": ?"progress"/.test(l);
    let lastProgress = lines.length - 1;
    while (lastProgress >= 0 && !isProgress(lines[lastProgress]!)) lastProgress--;
    const shown = lines.filter((l, i) => !isProgress(l) || i === lastProgress).join('\n');
    const state = exitCode === undefined ? 'running' : `exit ${exitCode}`;
    return (
      `--- ${name} (pid ${child.pid}, ${state}) stdout ---\n${shown.slice(-chars)}\n` +
      `--- ${name} stderr ---\n${spawnError ? `${spawnError.message}\n` : ''}${errors.slice(-chars)}`
    );
  };
  const ended = () =>
    exitCode === undefined ? undefined : `${name} exited with ${exitCode} (${cmd})`;
  const proc: Proc = {
    name,
    pid: child.pid ?? -1,
    lines,
    get exitCode() {
      return exitCode;
    },
    exited,
    events: parsed,
    event: (event) => parsed().find((e) => e.event === event),
    waitForEvent: (event, timeoutMs) =>
      waitUntil(`${name} to print a "${event}" event`, () => proc.event(event), timeoutMs, {
        abort: () => (proc.event(event) === undefined ? ended() : undefined),
        detail: () => tail(),
      }),
    waitForLine: (pattern, timeoutMs) => {
      const find = () => {
        for (const line of lines) {
          const m = pattern.exec(line);
          if (m) return m;
        }
        return undefined;
      };
      return waitUntil(`${name} to print ${pattern}`, find, timeoutMs, {
        abort: () => (find() === undefined ? ended() : undefined),
        detail: () => tail(),
      });
    },
    waitExit: (timeoutMs) =>
      waitUntil(`${name} to exit`, () => exitCode, timeoutMs, { detail: () => tail() }),
    tail,
    async stop(graceMs = 5000) {
      if (exitCode !== undefined || child.pid === undefined) return;
      child.kill('SIGTERM');
      const gone = await Promise.race([exited.then(() => true), delay(graceMs).then(() => false)]);
      if (!gone && exitCode === undefined) {
        child.kill('SIGKILL');
        await Promise.race([exited, delay(2000)]);
      }
    },
  };
  defer(t, () => proc.stop());
  return proc;
}

/** A TCP port that was free on `host` a moment ago (for clients that cannot pick their own). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A UDP port that was free on `host` a moment ago. */
export function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, host, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}
