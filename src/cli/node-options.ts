import { UsageError } from '../errors.js';
import { type PeerAddress, parsePeer } from '../metainfo/magnet.js';
import type { EncryptionPolicy } from '../net/dialer.js';
import { loadConfig, type NodeConfig } from '../node/config.js';
import type { Runtime } from '../runtime/runtime.js';
import { parseByteSize } from './format.js';

/** Flags shared by every command that runs a node. */
export interface NodeFlags {
  readonly port?: string;
  readonly host?: string;
  readonly dataDir?: string;
  readonly uploadLimit?: string;
  readonly downloadLimit?: string;
  /** `--no-dht` sets this false. */
  readonly dht?: boolean;
  readonly dhtBootstrap?: string[];
  /** `--no-pex` sets this false. */
  readonly pex?: boolean;
  readonly lsd?: boolean;
  /** `--overlay-peer HOST:PORT`, repeatable. */
  readonly overlayPeer?: string[];
  /** `--no-overlay` sets this false. */
  readonly overlay?: boolean;
  readonly encryption?: string;
  /** `--no-utp` sets this false. */
  readonly utp?: boolean;
  /** `--no-tcp` sets this false. */
  readonly tcp?: boolean;
  readonly preferUtp?: boolean;
  readonly upnp?: boolean;
  readonly natPmp?: boolean;
  readonly blocklist?: string;
  readonly onComplete?: string;
  readonly seedRatioLimit?: string;
  readonly seedTimeLimit?: string;
  readonly seedIdleLimit?: string;
  /** `--no-direct-writes` sets this false. */
  readonly directWrites?: boolean;
}

/**
 * Turns node flags into a resolved {@link NodeConfig}. `SHOAL_UPLOAD_LIMIT` and
 * `SHOAL_DOWNLOAD_LIMIT` take the same forms as the flags (`20M`), so they are read here.
 */
export async function configFromFlags(
  runtime: Runtime,
  flags: NodeFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<NodeConfig> {
  const { SHOAL_UPLOAD_LIMIT: upEnv, SHOAL_DOWNLOAD_LIMIT: downEnv, ...rest } = env;
  const uploadLimit = flags.uploadLimit ?? (upEnv === '' ? undefined : upEnv);
  const downloadLimit = flags.downloadLimit ?? (downEnv === '' ? undefined : downEnv);
  const overrides: Partial<NodeConfig> = {
    ...(flags.port !== undefined && { port: parsePort(flags.port) }),
    ...(flags.host !== undefined && { host: flags.host }),
    ...(flags.dataDir !== undefined && { dataDir: flags.dataDir }),
    ...(uploadLimit !== undefined && {
      uploadLimit: parseRate(
        uploadLimit,
        flags.uploadLimit !== undefined ? '--upload-limit' : 'SHOAL_UPLOAD_LIMIT',
      ),
    }),
    ...(downloadLimit !== undefined && {
      downloadLimit: parseRate(
        downloadLimit,
        flags.downloadLimit !== undefined ? '--download-limit' : 'SHOAL_DOWNLOAD_LIMIT',
      ),
    }),
    ...(flags.dht === false && { dht: false }),
    ...(flags.dhtBootstrap !== undefined &&
      flags.dhtBootstrap.length > 0 && { dhtBootstrap: flags.dhtBootstrap }),
    ...(flags.pex === false && { pex: false }),
    ...(flags.directWrites === false && { directWrites: false }),
    ...(flags.lsd === true && { lsd: true }),
    ...(flags.overlay === false && { overlay: false }),
    ...(flags.overlayPeer !== undefined &&
      flags.overlayPeer.length > 0 && {
        overlayPeers: parsePeers(flags.overlayPeer, '--overlay-peer').map((p) =>
          p.host.includes(':') ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`,
        ),
      }),
    ...(flags.encryption !== undefined && { encryption: parseEncryption(flags.encryption) }),
    ...(flags.utp === false && { utp: false }),
    ...(flags.tcp === false && { tcp: false }),
    ...(flags.preferUtp === true && { preferUtp: true }),
    ...(flags.upnp === true && { upnp: true }),
    ...(flags.natPmp === true && { natPmp: true }),
    ...(flags.blocklist !== undefined && { blocklist: flags.blocklist }),
    ...(flags.onComplete !== undefined && { onComplete: flags.onComplete }),
    ...(flags.seedRatioLimit !== undefined && {
      seedRatioLimit: parseLimit(flags.seedRatioLimit, '--seed-ratio-limit', 'a ratio (e.g. 2)'),
    }),
    ...(flags.seedTimeLimit !== undefined && {
      seedTimeLimitMinutes: parseLimit(flags.seedTimeLimit, '--seed-time-limit', 'minutes'),
    }),
    ...(flags.seedIdleLimit !== undefined && {
      seedIdleLimitMinutes: parseLimit(flags.seedIdleLimit, '--seed-idle-limit', 'minutes'),
    }),
  };
  return loadConfig(runtime.fs, overrides, rest);
}

function parseEncryption(text: string): EncryptionPolicy {
  if (text === 'prefer' || text === 'require' || text === 'disable') return text;
  throw new UsageError(`--encryption must be prefer, require or disable, not "${text}"`);
}

/** A seeding limit: a number ≥ 0, 0 meaning none. */
function parseLimit(text: string, flag: string, what: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new UsageError(`${flag} takes ${what}, 0 for no limit, not "${text}"`);
  return n;
}

function parsePort(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`--port must be 0..65535, not "${text}"`);
  return n;
}

function parseRate(text: string, flag: string): number {
  const n = parseByteSize(text);
  if (n === undefined)
    throw new UsageError(`${flag} takes bytes per second (e.g. 20M), not "${text}"`);
  return n;
}

/** Parses repeated `--peer HOST:PORT` flags. */
export function parsePeers(values: readonly string[], flag = '--peer'): PeerAddress[] {
  return values.map((v) => {
    try {
      return parsePeer(v);
    } catch {
      throw new UsageError(`${flag} must be HOST:PORT or [IPv6]:PORT, not "${v}"`);
    }
  });
}
