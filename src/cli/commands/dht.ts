import { join } from 'node:path';
import { decode, type Encodable } from '../../codec/bencode.js';
import { keysFromSeed } from '../../dht/bep44.js';
import { Dht, PUBLIC_BOOTSTRAP } from '../../dht/dht.js';
import { UsageError } from '../../errors.js';
import { parsePeer } from '../../metainfo/magnet.js';
import { defaultDataDir } from '../../node/config.js';
import type { Runtime } from '../../runtime/runtime.js';
import { untilSignal } from '../signals.js';

/** Flags shared by the `shoal dht` commands. */
export interface DhtFlags {
  readonly port?: string;
  readonly host?: string;
  readonly bootstrap: string[];
  readonly dataDir?: string;
  readonly json?: boolean;
  readonly readOnly?: boolean;
}

function print(json: boolean | undefined, value: Record<string, unknown>, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`);
}

/**
 * The DHT node of a `shoal dht` command. `run` is a full node with its state in the data folder;
 * the one-shot commands (`lookup`, `get`, `put`) join as BEP 43 read-only nodes, as a visitor
 * should: they ask, answer nothing, so nobody puts them in a routing table they are about to
 * leave, and they keep and save no state of their own.
 */
async function startDht(runtime: Runtime, flags: DhtFlags, persistent: boolean): Promise<Dht> {
  const port = flags.port === undefined ? (persistent ? 6881 : 0) : Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be 0..65535, not "${flags.port}"`);
  const bootstrap =
    flags.bootstrap.length > 0 ? flags.bootstrap.map(parsePeerFlag) : PUBLIC_BOOTSTRAP;
  let statePath: string | undefined;
  if (persistent) {
    const dataDir = flags.dataDir ?? defaultDataDir();
    await runtime.fs.mkdir(dataDir);
    statePath = join(dataDir, 'dht-standalone.state');
  }
  return Dht.start(runtime, {
    port,
    host: flags.host ?? '0.0.0.0',
    bootstrap,
    readOnly: !persistent || flags.readOnly === true,
    ...(statePath !== undefined && { statePath }),
  });
}

function parsePeerFlag(text: string): { host: string; port: number } {
  try {
    return parsePeer(text);
  } catch {
    throw new UsageError(`--bootstrap must be HOST:PORT, not "${text}"`);
  }
}

function hexId(text: string, what: string): Buffer {
  if (!/^[0-9a-fA-F]{40}$/.test(text))
    throw new UsageError(`${what} must be 40 hex digits, not "${text}"`);
  return Buffer.from(text, 'hex');
}

/** `shoal dht`: a standalone DHT node (e.g. a bootstrap node of a private network). */
export async function dhtRunCommand(runtime: Runtime, flags: DhtFlags): Promise<number> {
  const dht = await startDht(runtime, flags, true);
  dht.on('warning', (w) => process.stderr.write(`warning: ${w}\n`));
  try {
    const nodes = await dht.bootstrap();
    print(
      flags.json,
      { event: 'started', id: dht.id.toString('hex'), port: dht.port, nodes },
      `DHT node ${dht.id.toString('hex')} on UDP port ${dht.port}; ${nodes} nodes known; Ctrl-C to stop`,
    );
    const status = runtime.timers.setInterval(() => {
      const s = dht.stats();
      print(
        flags.json,
        { event: 'status', ...s },
        `nodes ${s.nodes} (good ${s.good}) · buckets ${s.buckets} · queries in ${s.queriesIn} out ${s.queriesOut} · stored ${s.storedInfoHashes} info-hashes, ${s.storedItems} items`,
      );
    }, 5000);
    await untilSignal();
    status.cancel();
    return 0;
  } finally {
    await dht.stop();
  }
}

/** `shoal dht lookup <infohash>`: prints the peers the DHT knows for a torrent. */
export async function dhtLookupCommand(
  runtime: Runtime,
  infoHash: string,
  flags: DhtFlags,
): Promise<number> {
  const hash = hexId(infoHash, 'the info-hash');
  const dht = await startDht(runtime, flags, false);
  try {
    const nodes = await dht.bootstrap();
    if (nodes === 0) throw new UsageError('no DHT node answered; check --bootstrap');
    const r = await dht.getPeers(hash);
    const peers = r.peers.map((p) => `${p.host.includes(':') ? `[${p.host}]` : p.host}:${p.port}`);
    print(
      flags.json,
      { infoHash, peers, hops: r.hops, ms: Math.round(r.ms), queried: r.queried },
      `${peers.length} peer(s) in ${Math.round(r.ms)} ms, ${r.hops} hop(s), ${r.queried} queries${peers.length ? `\n  ${peers.join('\n  ')}` : ''}`,
    );
    return peers.length > 0 ? 0 : 1;
  } finally {
    await dht.stop();
  }
}

/** Options of `shoal dht put`. */
export interface DhtPutFlags extends DhtFlags {
  readonly key?: string;
  readonly salt?: string;
  readonly seq?: string;
}

/**
 * The ed25519 seed in `path`, made (owner-only, 0600) when the file does not exist yet; a key
 * file that other users could read or change is refused (`SecretFileError`).
 */
async function loadSeed(runtime: Runtime, path: string): Promise<Buffer> {
  if (await runtime.fs.exists(path)) {
    const text = (await runtime.fs.readSecretFile(path)).toString('utf8').trim();
    if (!/^[0-9a-fA-F]{64}$/.test(text))
      throw new UsageError(`${path} must hold a 64-hex-digit ed25519 seed`);
    return Buffer.from(text, 'hex');
  }
  const seed = runtime.random.bytes(32);
  await runtime.fs.writeSecretFile(path, Buffer.from(`${seed.toString('hex')}\n`));
  return seed;
}

/** `shoal dht put <value>`: stores an immutable item, or a mutable one signed with `--key FILE`. */
export async function dhtPutCommand(
  runtime: Runtime,
  value: string,
  flags: DhtPutFlags,
): Promise<number> {
  // The key first: a key file others can read is refused before anything goes out.
  const keys = flags.key ? keysFromSeed(await loadSeed(runtime, flags.key)) : undefined;
  const dht = await startDht(runtime, flags, false);
  try {
    if ((await dht.bootstrap()) === 0)
      throw new UsageError('no DHT node answered; check --bootstrap');
    if (keys) {
      const seq = flags.seq === undefined ? undefined : Number(flags.seq);
      const r = await dht.putMutable(keys, value, {
        ...(seq !== undefined && { seq }),
        ...(flags.salt !== undefined && { salt: Buffer.from(flags.salt) }),
      });
      print(
        flags.json,
        {
          target: r.target.toString('hex'),
          publicKey: keys.publicKey.toString('hex'),
          seq: r.seq,
          stored: r.stored,
        },
        `stored mutable item ${r.target.toString('hex')} (key ${keys.publicKey.toString('hex')}, seq ${r.seq}) at ${r.stored} node(s)`,
      );
      return r.stored > 0 ? 0 : 1;
    }
    const r = await dht.putImmutable(value);
    print(
      flags.json,
      { target: r.target.toString('hex'), stored: r.stored },
      `stored ${r.target.toString('hex')} at ${r.stored} node(s)`,
    );
    return r.stored > 0 ? 0 : 1;
  } finally {
    await dht.stop();
  }
}

/** `shoal dht get <target>`: fetches and verifies a BEP 44 item. */
export async function dhtGetCommand(
  runtime: Runtime,
  target: string,
  flags: DhtFlags & { salt?: string },
): Promise<number> {
  const dht = await startDht(runtime, flags, false);
  try {
    if ((await dht.bootstrap()) === 0)
      throw new UsageError('no DHT node answered; check --bootstrap');
    const item = await dht.getItem(
      hexId(target, 'the target'),
      flags.salt === undefined ? undefined : Buffer.from(flags.salt),
    );
    if (!item) {
      print(flags.json, { target, found: false }, 'not found');
      return 1;
    }
    const v = decode(item.v) as Encodable;
    const shown =
      v instanceof Uint8Array
        ? Buffer.from(v).toString('utf8')
        : JSON.stringify(v, (_k, x) =>
            x instanceof Uint8Array
              ? Buffer.from(x).toString('utf8')
              : x instanceof Map
                ? Object.fromEntries(x)
                : x,
          );
    print(
      flags.json,
      {
        target,
        found: true,
        value: shown,
        ...(item.seq !== undefined && { seq: item.seq, publicKey: item.k?.toString('hex') }),
      },
      item.seq !== undefined
        ? `${shown}\n(seq ${item.seq}, key ${item.k?.toString('hex')})`
        : shown,
    );
    return 0;
  } finally {
    await dht.stop();
  }
}
