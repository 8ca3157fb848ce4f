import { join } from 'node:path';
import { ShoalError } from '../errors.js';
import { fileMode, writePrivateFile } from '../runtime/private-file.js';
import type { FileSystem, RandomSource } from '../runtime/runtime.js';
import { isLoopbackAddress } from './auth.js';

/** Where and how the daemon's API listens: `api` in config.json, `SHOAL_API_*`, flags. */
export interface ApiSettings {
  readonly enabled: boolean;
  readonly host: string;
  readonly port: number;
  /** HTTP Basic user; any user name is accepted with the password when absent. */
  readonly user?: string;
  readonly password?: string;
}

/** Transmission's port, so tools that default to it find shoal. */
export const DEFAULT_API_PORT = 9091;

/** A setting of the API is missing, malformed or unsafe. */
export class ApiConfigError extends ShoalError {
  constructor(message: string) {
    super('API_CONFIG_INVALID', message);
  }
}

/**
 * Resolves the API settings: defaults (127.0.0.1:9091), then the `api` object of
 * `<dataDir>/config.json`, then `SHOAL_API_HOST`/`PORT`/`USER`/`PASSWORD`, then `overrides`.
 * Refuses a non-loopback address without a password.
 * @throws {ApiConfigError}
 */
export async function loadApiSettings(
  fs: FileSystem,
  dataDir: string,
  overrides: Partial<ApiSettings> = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<ApiSettings> {
  let fromFile: Record<string, unknown> = {};
  const path = join(dataDir, 'config.json');
  if (await fs.exists(path)) {
    try {
      const all = JSON.parse((await fs.readFile(path)).toString('utf8')) as Record<string, unknown>;
      if (all.api !== undefined) {
        if (typeof all.api !== 'object' || all.api === null || Array.isArray(all.api))
          throw new ApiConfigError(`"api" in ${path} must be an object`);
        fromFile = all.api as Record<string, unknown>;
      }
    } catch (error) {
      if (error instanceof ApiConfigError) throw error;
      throw new ApiConfigError(`${path} is not valid JSON: ${(error as Error).message}`);
    }
  }
  const fromEnv: Record<string, unknown> = {};
  if (env.SHOAL_API_HOST) fromEnv.host = env.SHOAL_API_HOST;
  if (env.SHOAL_API_PORT) fromEnv.port = Number(env.SHOAL_API_PORT);
  if (env.SHOAL_API_USER) fromEnv.user = env.SHOAL_API_USER;
  if (env.SHOAL_API_PASSWORD) fromEnv.password = env.SHOAL_API_PASSWORD;
  const merged: Record<string, unknown> = {
    enabled: true,
    host: '127.0.0.1',
    port: DEFAULT_API_PORT,
    ...fromFile,
    ...fromEnv,
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  };
  const types: Record<string, string> = {
    enabled: 'boolean',
    host: 'string',
    port: 'number',
    user: 'string',
    password: 'string',
  };
  for (const [key, value] of Object.entries(merged)) {
    if (types[key] === undefined) throw new ApiConfigError(`unknown API setting "${key}"`);
    if (typeof value !== types[key])
      throw new ApiConfigError(`API setting "${key}" must be a ${types[key]}`);
  }
  const settings = merged as unknown as ApiSettings;
  if (!Number.isInteger(settings.port) || settings.port < 0 || settings.port > 65535)
    throw new ApiConfigError(`the API port must be 0..65535, not ${settings.port}`);
  if (settings.password === '') throw new ApiConfigError('the API password must not be empty');
  assertSafeListen(settings);
  return settings;
}

/**
 * Refuses to expose the API beyond this machine without a password: the token alone would
 * then be the only guard, and Transmission clients could come in with no credential at all.
 * @throws {ApiConfigError}
 */
export function assertSafeListen(settings: ApiSettings): void {
  if (!settings.enabled || isLoopbackAddress(settings.host) || settings.host === 'localhost')
    return;
  if (settings.password === undefined) {
    throw new ApiConfigError(
      `refusing to serve the API on ${settings.host} without a password: set api.password in config.json, SHOAL_API_PASSWORD or --api-password, or use a loopback address`,
    );
  }
}

/** Where the API token lives. */
export function tokenPath(dataDir: string): string {
  return join(dataDir, 'api-token');
}

/**
 * The daemon's API token: read from `<dataDir>/api-token`, or made (32 random bytes, hex) and
 * written readable by the owner only. The remote CLI reads the same file.
 */
export async function loadOrCreateToken(
  fs: FileSystem,
  random: RandomSource,
  dataDir: string,
): Promise<string> {
  const path = tokenPath(dataDir);
  if (await fs.exists(path)) {
    const token = (await fs.readFile(path)).toString('utf8').trim();
    if (/^[0-9a-f]{32,128}$/.test(token)) {
      // A token others can read is no secret: tighten a file someone loosened.
      if (((await fileMode(path)) ?? 0) & 0o077)
        await writePrivateFile(path, Buffer.from(`${token}\n`));
      return token;
    }
  }
  const token = random.bytes(32).toString('hex');
  await writePrivateFile(path, Buffer.from(`${token}\n`));
  return token;
}
