import { join } from 'node:path';
import { loadApiSettings, tokenPath } from '../api/settings.js';
import { type ErrorCode, isErrorCode, ShoalError } from '../errors.js';
import { httpCall } from '../runtime/http-server.js';
import type { FileSystem, Runtime } from '../runtime/runtime.js';

/**
 * The remote CLI's way to a running daemon (`shoal start`): where it listens, the token from
 * its data folder, and JSON calls to its API, with the daemon's JSON errors turned into one
 * clear line.
 */

/** The file where a running daemon writes its API URL (it may listen on a free port). */
export function daemonUrlPath(dataDir: string): string {
  return join(dataDir, 'api-url');
}

/** Records the daemon's API URL for the remote CLI. */
export async function writeDaemonUrl(fs: FileSystem, dataDir: string, url: string): Promise<void> {
  await fs.writeFileAtomic(daemonUrlPath(dataDir), Buffer.from(`${url}\n`));
}

/** Forgets the daemon's API URL (it is stopping). */
export async function clearDaemonUrl(fs: FileSystem, dataDir: string): Promise<void> {
  await fs.rm(daemonUrlPath(dataDir));
}

/** The daemon answered with an error, or could not be reached. */
export class DaemonError extends ShoalError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly status = 0,
  ) {
    super(code, message);
  }
}

/** How to reach a daemon. */
export interface DaemonTarget {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** JSON calls to a daemon's API. */
export class DaemonClient {
  constructor(
    private readonly runtime: Runtime,
    readonly target: DaemonTarget,
    private readonly timeoutMs = 30_000,
  ) {}

  /** Calls the API; resolves with the parsed JSON answer. @throws {DaemonError} */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const isBytes = body instanceof Uint8Array;
    const res = await httpCall(this.runtime.egress, {
      method,
      url: `${this.target.url}${path}`,
      headers: {
        ...this.target.headers,
        ...(body !== undefined && {
          'content-type': isBytes ? 'application/x-bittorrent' : 'application/json',
        }),
      },
      ...(body !== undefined && { body: isBytes ? body : JSON.stringify(body) }),
      timeoutMs: this.timeoutMs,
      maxBytes: 256 * 1024 * 1024,
    }).catch((error: Error) => {
      throw new DaemonError(
        'DAEMON_UNREACHABLE',
        `no shoal daemon answers at ${this.target.url} (${error.message}); start one with "shoal start"`,
      );
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new DaemonError(
        'DAEMON_BAD_ANSWER',
        `${this.target.url} answered HTTP ${res.status} with something that is not JSON: is it a shoal daemon?`,
        res.status,
      );
    }
    if (res.status >= 400) {
      const e = (parsed as { error?: { code?: string; message?: string } }).error;
      throw new DaemonError(
        isErrorCode(e?.code) ? e.code : 'DAEMON_ERROR',
        e?.message ?? `HTTP ${res.status}`,
        res.status,
      );
    }
    return parsed as T;
  }
}

/** Where to find the daemon, as the user said. */
export interface DaemonFlags {
  /** `--api URL`. */
  readonly api?: string;
  /** `--auth USER:PASSWORD` (instead of the token). */
  readonly auth?: string;
}

/**
 * Works out the daemon's URL and credentials: `--api` or `SHOAL_API_URL`, else the URL a
 * running daemon wrote into the data folder, else the configured API host and port; the token
 * from `SHOAL_API_TOKEN` or `<dataDir>/api-token`, or `--auth user:password`.
 */
export async function daemonTarget(
  runtime: Runtime,
  dataDir: string,
  flags: DaemonFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<DaemonTarget> {
  const fs = runtime.fs;
  let url = flags.api ?? env.SHOAL_API_URL;
  if (url === undefined && (await fs.exists(daemonUrlPath(dataDir))))
    url = (await fs.readFile(daemonUrlPath(dataDir))).toString('utf8').trim();
  if (url === undefined) {
    const s = await loadApiSettings(fs, dataDir, {}, env);
    const host = s.host === '0.0.0.0' ? '127.0.0.1' : s.host.includes(':') ? `[${s.host}]` : s.host;
    url = `http://${host}:${s.port}`;
  }
  url = url.replace(/\/+$/, '');
  const headers: Record<string, string> = {};
  if (flags.auth !== undefined) {
    headers.authorization = `Basic ${Buffer.from(flags.auth).toString('base64')}`;
  } else {
    let token = env.SHOAL_API_TOKEN;
    if (token === undefined && (await fs.exists(tokenPath(dataDir))))
      token = (await fs.readFile(tokenPath(dataDir))).toString('utf8').trim();
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
  }
  return { url, headers };
}

/**
 * A client for the daemon when one answers quickly, else undefined (so `get` and `share` run
 * their own node instead).
 */
export async function findDaemon(
  runtime: Runtime,
  dataDir: string,
  flags: DaemonFlags,
): Promise<DaemonClient | undefined> {
  let target: DaemonTarget;
  try {
    target = await daemonTarget(runtime, dataDir, flags);
  } catch {
    return undefined;
  }
  const probe = new DaemonClient(runtime, target, 2000);
  try {
    const about = await probe.call<{ name?: string }>('GET', '/api');
    return about.name === 'shoal' ? new DaemonClient(runtime, target) : undefined;
  } catch (error) {
    // A daemon that refuses our credentials is still a daemon: say so instead of starting
    // a second node that would fight it for the port.
    if (error instanceof DaemonError && error.status === 401) throw error;
    return undefined;
  }
}
