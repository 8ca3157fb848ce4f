import { homedir } from 'node:os';
import { join } from 'node:path';
import { ShoalError } from '../errors.js';
import { DEFAULT_CONNECTION_LIMITS } from '../net/connection-manager.js';
import type { EncryptionPolicy } from '../net/dialer.js';
import type { FileSystem } from '../runtime/runtime.js';
import { DEFAULT_SWARM_OPTIONS } from '../swarm/torrent.js';

/** Every setting of a node, in one typed object (defaults → config file → env → flags). */
export interface NodeConfig {
  /** Where the node keeps its state: torrents, resume data, identity. */
  readonly dataDir: string;
  /** Default folder for downloads. */
  readonly downloadDir: string;
  /** TCP port for peers; 0 picks a free one. */
  readonly port: number;
  /** Address to listen on. */
  readonly host: string;
  readonly maxPeersPerTorrent: number;
  /** Connections open at once, node-wide. */
  readonly maxConnections: number;
  /** Connections open at once with one IP address, node-wide. */
  readonly maxConnectionsPerIp: number;
  readonly uploadSlots: number;
  /** Bytes per second for the whole node, 0 = unlimited. */
  readonly uploadLimit: number;
  readonly downloadLimit: number;
  /** Worker threads for hashing; 0 = one per core. */
  readonly hashWorkers: number;
  /**
   * Write downloaded pieces past the OS page cache (O_DIRECT) where the file system allows it:
   * a large download then costs no memcpy into the cache and does not push other files out of
   * it. Reads, short writes and unaligned edges stay buffered.
   */
  readonly directWrites: boolean;
  /** First UDP tracker timeout (BEP 15: 15 s, doubling on each retry). */
  readonly udpTrackerTimeoutMs: number;
  /** Run a mainline DHT node (BEP 5) on the same port number, over UDP. */
  readonly dht: boolean;
  /**
   * DHT nodes to bootstrap from, as `host:port`. The default names the public routers; under
   * `SHOAL_EGRESS=loopback` contacting them fails loudly, so tests name their own.
   */
  readonly dhtBootstrap: readonly string[];
  /**
   * BitTorrent protocol encryption (MSE/PE): `prefer` (default) encrypts outgoing connections
   * and falls back to plaintext for peers that refuse, and accepts both; `require` refuses
   * plaintext both ways; `disable` neither offers nor accepts it.
   */
  readonly encryption: EncryptionPolicy;
  /** Speak uTP (BEP 29) on the node's UDP socket, both ways. */
  readonly utp: boolean;
  /** Dial peers over TCP (incoming TCP is always accepted). */
  readonly tcp: boolean;
  /** Dial uTP first and TCP only when uTP fails (default: TCP first, then uTP). */
  readonly preferUtp: boolean;
  /** Exchange peers with peers (BEP 11 ut_pex). */
  readonly pex: boolean;
  /** Local service discovery (BEP 14 multicast); off by default. */
  readonly lsd: boolean;
  /**
   * Introduce and relay for other shoal nodes (within limits) while this node is reachable;
   * on by default, as every node that can should.
   */
  readonly relay: boolean;
  /**
   * Publish where this node can be reached in the DHT, under its key (and register with
   * rendezvous nodes when behind a NAT). Off for a process that only dials, like `shoal ping`.
   */
  readonly publishAddress: boolean;
  /** Join the shoal overlay: answer keyword searches for what this node shares, and search. */
  readonly overlay: boolean;
  /** Overlay nodes to join through, `host:port` (the DHT and LSD find others). */
  readonly overlayPeers: readonly string[];
  /**
   * May become an ultrapeer (route searches for up to 100 leaves) when peers reach it from
   * outside and it has been up 10 minutes.
   */
  readonly ultrapeer: boolean;
  /**
   * Ask the router to forward the node's port over UPnP IGD. Off by default (DESIGN.md §3): it
   * opens a port on the user's router, which the user should choose.
   */
  readonly upnp: boolean;
  /** The same over NAT-PMP (RFC 6886), asked of the default gateway; off by default. */
  readonly natPmp: boolean;
  /** The router NAT-PMP talks to; empty: the default route's gateway. */
  readonly natGateway: string;
  /**
   * An IP blocklist (P2P text format, maybe gzipped) to load at start, from a path or an
   * http(s) URL: no connection is made with an address it holds. Empty: none.
   */
  readonly blocklist: string;
  /** Stop seeding a torrent once it uploaded this many times what it downloaded (0 = never). */
  readonly seedRatioLimit: number;
  /** Stop seeding a torrent after this many minutes of seeding (0 = never). */
  readonly seedTimeLimitMinutes: number;
  /** Stop seeding a torrent that uploaded nothing for this many minutes (0 = never). */
  readonly seedIdleLimitMinutes: number;
  /**
   * A command run by `/bin/sh -c` when a torrent finishes downloading, with the torrent in
   * `SHOAL_TORRENT_NAME`, `SHOAL_INFO_HASH` and `SHOAL_DOWNLOAD_DIR`. Empty: none.
   */
  readonly onComplete: string;
}

/** The default data folder: `$XDG_DATA_HOME/shoal`, else `~/.local/share/shoal`. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_DATA_HOME && env.XDG_DATA_HOME.length > 0
      ? env.XDG_DATA_HOME
      : join(homedir(), '.local', 'share');
  return join(base, 'shoal');
}

/** Defaults for everything. */
export function defaultConfig(env: NodeJS.ProcessEnv = process.env): NodeConfig {
  return {
    dataDir: defaultDataDir(env),
    downloadDir: join(homedir(), 'Downloads'),
    port: 6881,
    host: '0.0.0.0',
    maxPeersPerTorrent: DEFAULT_SWARM_OPTIONS.maxPeers,
    maxConnections: DEFAULT_CONNECTION_LIMITS.maxConnections,
    maxConnectionsPerIp: DEFAULT_CONNECTION_LIMITS.maxPerIp,
    uploadSlots: DEFAULT_SWARM_OPTIONS.uploadSlots,
    uploadLimit: 0,
    downloadLimit: 0,
    hashWorkers: 0,
    directWrites: true,
    udpTrackerTimeoutMs: 15_000,
    dht: true,
    dhtBootstrap: [
      'router.bittorrent.com:6881',
      'dht.transmissionbt.com:6881',
      'router.utorrent.com:6881',
    ],
    encryption: 'prefer',
    utp: true,
    tcp: true,
    preferUtp: false,
    pex: true,
    lsd: false,
    relay: true,
    publishAddress: true,
    overlay: true,
    overlayPeers: [],
    ultrapeer: true,
    upnp: false,
    natPmp: false,
    natGateway: '',
    blocklist: '',
    seedRatioLimit: 0,
    seedTimeLimitMinutes: 0,
    seedIdleLimitMinutes: 0,
    onComplete: '',
  };
}

/** A setting could not be understood. */
export class ConfigError extends ShoalError {
  constructor(message: string) {
    super('CONFIG_INVALID', message);
  }
}

const ENV_KEYS: Record<string, keyof NodeConfig> = {
  SHOAL_DATA_DIR: 'dataDir',
  SHOAL_DOWNLOAD_DIR: 'downloadDir',
  SHOAL_PORT: 'port',
  SHOAL_HOST: 'host',
  SHOAL_UPLOAD_LIMIT: 'uploadLimit',
  SHOAL_DOWNLOAD_LIMIT: 'downloadLimit',
  SHOAL_DHT: 'dht',
  SHOAL_DHT_BOOTSTRAP: 'dhtBootstrap',
  SHOAL_PEX: 'pex',
  SHOAL_ENCRYPTION: 'encryption',
  SHOAL_UTP: 'utp',
  SHOAL_LSD: 'lsd',
  SHOAL_RELAY: 'relay',
  SHOAL_OVERLAY: 'overlay',
  SHOAL_OVERLAY_PEERS: 'overlayPeers',
  SHOAL_ULTRAPEER: 'ultrapeer',
  SHOAL_UPNP: 'upnp',
  SHOAL_NAT_PMP: 'natPmp',
  SHOAL_NAT_GATEWAY: 'natGateway',
  SHOAL_BLOCKLIST: 'blocklist',
  SHOAL_ON_COMPLETE: 'onComplete',
  SHOAL_DIRECT_WRITES: 'directWrites',
};

/**
 * Resolves the configuration: defaults, then `<dataDir>/config.json` if present, then
 * `SHOAL_*` environment variables, then `overrides` (command-line flags).
 */
export async function loadConfig(
  fs: FileSystem,
  overrides: Partial<NodeConfig> = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<NodeConfig> {
  const base = defaultConfig(env);
  const fromEnv: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    const kind = typeof base[key];
    fromEnv[key] =
      kind === 'number'
        ? Number(v)
        : kind === 'boolean'
          ? !['0', 'false', 'no', 'off'].includes(v.toLowerCase())
          : Array.isArray(base[key])
            ? v
                .split(',')
                .map((x) => x.trim())
                .filter((x) => x !== '')
            : v;
  }
  const dataDir = overrides.dataDir ?? (fromEnv.dataDir as string | undefined) ?? base.dataDir;
  let fromFile: Record<string, unknown> = {};
  const path = join(dataDir, 'config.json');
  if (await fs.exists(path)) {
    try {
      fromFile = JSON.parse((await fs.readFile(path)).toString('utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError(`${path} is not valid JSON: ${(error as Error).message}`);
    }
    // The daemon's API settings share the file; src/api/settings.ts reads them.
    delete fromFile.api;
  }
  const merged = {
    ...base,
    ...fromFile,
    ...fromEnv,
    ...stripUndefined(overrides),
    dataDir,
  } as Record<string, unknown>;
  for (const [key, value] of Object.entries(merged)) {
    const expected = typeof (base as unknown as Record<string, unknown>)[key];
    if (expected === 'undefined') throw new ConfigError(`unknown setting "${key}"`);
    const list = Array.isArray((base as unknown as Record<string, unknown>)[key]);
    const ok = list
      ? Array.isArray(value) && value.every((x) => typeof x === 'string')
      : typeof value === expected && (expected !== 'number' || Number.isFinite(value));
    if (!ok) {
      throw new ConfigError(
        `setting "${key}" must be ${list ? 'a list of strings' : `a ${expected}`}, got ${JSON.stringify(value)}`,
      );
    }
  }
  const config = merged as unknown as NodeConfig;
  if (!config.tcp && !config.utp)
    throw new ConfigError('tcp and utp are both off: the node could dial no peer; keep one on');
  if (!ENCRYPTION_POLICIES.includes(config.encryption)) {
    throw new ConfigError(
      `encryption must be one of ${ENCRYPTION_POLICIES.join(', ')}, got ${JSON.stringify(config.encryption)}`,
    );
  }
  if (config.natGateway !== '' && !/^\d{1,3}(\.\d{1,3}){3}$/.test(config.natGateway))
    throw new ConfigError(
      `natGateway must be an IPv4 address, got ${JSON.stringify(config.natGateway)}`,
    );
  for (const key of ['seedRatioLimit', 'seedTimeLimitMinutes', 'seedIdleLimitMinutes'] as const)
    if (config[key] < 0)
      throw new ConfigError(`${key} must be 0 (no limit) or more, got ${config[key]}`);
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) {
    throw new ConfigError(`port must be 0..65535, got ${config.port}`);
  }
  return config;
}

const ENCRYPTION_POLICIES: readonly EncryptionPolicy[] = ['prefer', 'require', 'disable'];

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
