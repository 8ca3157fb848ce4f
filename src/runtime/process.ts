import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';

/**
 * Writes `text` to stderr at once, without a stream: a stream on a pipe opens a handle, and a
 * simulation in progress (whose progress lines this writes) refuses any real I/O handle.
 */
export function writeStderrNow(text: string): void {
  writeSync(2, text);
}

/** How a child process ended: its exit code (null when a signal ended it), or why it never ran. */
export interface ProcessExit {
  readonly code: number | null;
  readonly error?: Error;
}

/** A process started by a {@link ProcessLauncher}. */
export interface StartedProcess {
  /** Settles when the process ends, or at once when it could not start; never rejects. */
  readonly exited: Promise<ProcessExit>;
}

/**
 * Starts other programs (a completion hook, a media player): the one place shoal spawns
 * processes, so the simulator and tests run none and every spawn is argument-vector based.
 * Nothing here goes through a shell unless the caller names one as `command`.
 */
export interface ProcessLauncher {
  /**
   * Starts `command` with `args`, its output ignored, `env` added to this process's
   * environment; with `detached` it runs in a process group of its own and outlives shoal.
   */
  start(
    command: string,
    args: readonly string[],
    options?: { env?: Readonly<Record<string, string>>; detached?: boolean },
  ): StartedProcess;
}

/** {@link ProcessLauncher.start} with `detached`: a fire-and-forget program that outlives us. */
export function spawnDetached(
  launcher: ProcessLauncher,
  command: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): StartedProcess {
  return launcher.start(command, args, { env, detached: true });
}

/** Processes of the real operating system. */
export const realProcesses: ProcessLauncher = {
  start(command, args, options = {}) {
    const exited = new Promise<ProcessExit>((resolve) => {
      const child = spawn(command, [...args], {
        stdio: 'ignore',
        detached: options.detached === true,
        env: { ...process.env, ...options.env },
      });
      child.once('error', (error) => resolve({ code: null, error }));
      child.once('exit', (code) => resolve({ code }));
      if (options.detached) child.unref();
    });
    return { exited };
  },
};

/**
 * Runs this same program again with `nodeFlags` added to Node's own flags (a larger heap), the
 * terminal handed over, and SIGINT/SIGTERM passed on; settles with the child's exit code.
 */
export function rerunSelf(
  nodeFlags: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<number> {
  const args = [...process.execArgv, ...nodeFlags, ...process.argv.slice(1)];
  const child = spawn(process.execPath, args, {
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return new Promise((resolve) => {
    const done = (code: number) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(code);
    };
    child.once('error', () => done(1));
    child.once('exit', (code, signal) => done(code ?? (signal === 'SIGINT' ? 130 : 1)));
  });
}
