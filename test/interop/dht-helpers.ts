/**
 * Private loopback DHTs for the DHT interop tests (and the `dht` benchmark): shoal nodes in this
 * process, each on its own 127.0.x.y address (shoal limits queries per address), nodes of the
 * npm `bittorrent-dht` package bound to loopback and bootstrapped only from given nodes, and the
 * ed25519 signing and verifying that `bittorrent-dht` leaves to its user, done with node:crypto.
 */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { createSocket } from 'node:dgram';
import DHT from 'bittorrent-dht';
import { Dht, type DhtOptions } from '../../src/dht/dht.js';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { createRealRuntime } from '../../src/runtime/real.js';

/** The subset of a node:test context the helpers need. */
interface TestContext {
  after(fn: () => unknown): void;
}

const runtime = createRealRuntime(new EgressPolicy('loopback'));

/** `HOST:PORT` of a shoal DHT node. */
export const addressOf = (d: Dht): string => `${d.options.host}:${d.port}`;

/**
 * Starts `n` shoal DHT nodes on 127.0.`subnet`.1 … 127.0.`subnet`.n, each bootstrapped from the
 * first, then has every one join (a lookup of its own id) twice so their tables fill. They are
 * stopped when `t` ends (pass `t` undefined to stop them yourself).
 */
export async function startShoalDht(
  t: TestContext | undefined,
  subnet: number,
  n: number,
  options: Partial<DhtOptions> = {},
): Promise<Dht[]> {
  const nodes: Dht[] = [];
  t?.after(() => Promise.all(nodes.map((d) => d.stop())));
  try {
    for (let i = 0; i < n; i++) {
      const host = hostIn(subnet, i + 1);
      const bootstrap = i === 0 ? [] : [{ host: nodes[0]!.options.host, port: nodes[0]!.port }];
      nodes.push(
        await Dht.start(runtime, { host, port: 0, bootstrap, queryTimeoutMs: 1000, ...options }),
      );
    }
    for (const d of nodes.slice(1)) await d.bootstrap();
    await Promise.all(nodes.map((d) => d.bootstrap()));
  } catch (error) {
    if (t === undefined) await Promise.all(nodes.map((d) => d.stop()));
    throw error;
  }
  return nodes;
}

/**
 * The `index`-th address (1-based) of a run of loopback addresses that starts at
 * 127.0.`subnet`.1 and goes on into the next /24s past .250 (so runs of hundreds fit).
 */
export function hostIn(subnet: number, index: number): string {
  const i = index - 1;
  return `127.0.${subnet + Math.floor(i / 250)}.${(i % 250) + 1}`;
}

/** Resolves with the first `announce` of `infoHash` that any of `nodes` receives from `host`. */
export function whenAnnounced(
  nodes: readonly Dht[],
  infoHash: Buffer,
  host: string,
  timeoutMs: number,
): Promise<{ host: string; port: number }> {
  const p = new Promise<{ host: string; port: number }>((resolve, reject) => {
    const listeners: [Dht, (h: Buffer, p: { host: string; port: number }) => void][] = [];
    const done = () => {
      clearTimeout(timer);
      for (const [d, l] of listeners) d.off('announce', l);
    };
    const timer = setTimeout(() => {
      done();
      reject(
        new Error(`no announce of ${infoHash.toString('hex')} from ${host} within ${timeoutMs} ms`),
      );
    }, timeoutMs);
    for (const d of nodes) {
      const l = (h: Buffer, p: { host: string; port: number }) => {
        if (!h.equals(infoHash) || p.host !== host) return;
        done();
        resolve(p);
      };
      listeners.push([d, l]);
      d.on('announce', l);
    }
    timer.unref();
  });
  // A test that fails before it awaits this must not also report an unhandled rejection.
  p.catch(() => undefined);
  return p;
}

// ---------------------------------------------------------------- ed25519 for bittorrent-dht

const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

/** `bittorrent-dht`'s `verify` option: is `sig` `publicKey`'s ed25519 signature of `message`? */
export function ed25519Verify(sig: Buffer, message: Buffer, publicKey: Buffer): boolean {
  if (!Buffer.isBuffer(sig) || !Buffer.isBuffer(publicKey) || publicKey.length !== 32) return false;
  try {
    const key = createPublicKey({
      key: Buffer.concat([SPKI_ED25519, publicKey]),
      format: 'der',
      type: 'spki',
    });
    return verify(null, message, key, sig);
  } catch {
    return false;
  }
}

/** A `sign` function for `bittorrent-dht`'s mutable `put`, from a 32-byte ed25519 seed. */
export function ed25519Signer(seed: Buffer): (message: Buffer) => Buffer {
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  return (message) => sign(null, message, key);
}

// ---------------------------------------------------------------- bittorrent-dht nodes

/**
 * Starts a `bittorrent-dht` node on `host` (UDP port 0 unless given) that bootstraps only from
 * `bootstrap` (`HOST:PORT`; its own default would be the public routers) and verifies BEP 44
 * signatures with node:crypto. The socket is bound before the node is made, so its first
 * bootstrap query already leaves from `host`. Resolves once bootstrapping is over ('ready');
 * the node is destroyed when `t` ends.
 */
export async function startBittorrentDht(
  t: TestContext | undefined,
  host: string,
  bootstrap: readonly string[],
  options: { port?: number; timeoutMs?: number; waitReady?: boolean } = {},
): Promise<DHT> {
  if (bootstrap.length === 0) {
    // An empty list would make it fall back to the public routers: never allowed here.
    throw new Error('a bittorrent-dht node needs explicit loopback bootstrap nodes');
  }
  for (const b of bootstrap) {
    if (!b.startsWith('127.')) throw new Error(`bootstrap node ${b} is not on loopback`);
  }
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(options.port ?? 0, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const dht = new DHT({
    bootstrap: [...bootstrap],
    socket,
    verify: ed25519Verify,
    timeout: options.timeoutMs ?? 1000,
  });
  dht.on('error', () => undefined);
  dht.on('warning', () => undefined);
  t?.after(() => new Promise<void>((resolve) => dht.destroy(() => resolve())));
  if (options.waitReady !== false) {
    await new Promise<void>((resolve) => {
      if (dht.ready) resolve();
      else dht.once('ready', () => resolve());
    });
  }
  return dht;
}

/** `HOST:PORT` of a `bittorrent-dht` node. */
export const bittorrentDhtAddress = (d: DHT): string => {
  const a = d.address();
  return `${a.address}:${a.port}`;
};

/** `dht.announce` as a promise. */
export function btAnnounce(dht: DHT, infoHash: Buffer, port: number): Promise<void> {
  return new Promise((resolve, reject) =>
    dht.announce(infoHash, port, (err) => (err ? reject(err) : resolve())),
  );
}

/** `dht.lookup`: resolves with every peer it found for `infoHash`. */
export function btLookup(
  dht: DHT,
  infoHash: Buffer,
): Promise<{ peers: { host: string; port: number }[]; visited: number }> {
  return new Promise((resolve, reject) => {
    const peers = new Map<string, { host: string; port: number }>();
    const onPeer = (peer: { host: string; port: number }, hash: Buffer) => {
      if (hash.equals(infoHash)) peers.set(`${peer.host}:${peer.port}`, peer);
    };
    dht.on('peer', onPeer);
    dht.lookup(infoHash, (err, visited) => {
      dht.off('peer', onPeer);
      if (err) reject(err);
      else resolve({ peers: [...peers.values()], visited });
    });
  });
}

/** `dht.put` as a promise: the target and how many nodes took it. */
export function btPut(
  dht: DHT,
  item: Parameters<DHT['put']>[0],
): Promise<{ target: Buffer; stored: number }> {
  return new Promise((resolve, reject) => {
    dht.put(item, (err, target, stored) => (err ? reject(err) : resolve({ target, stored })));
  });
}

/** `dht.get` as a promise (never from its own cache). */
export function btGet(
  dht: DHT,
  target: Buffer,
  salt?: Buffer,
): Promise<import('bittorrent-dht').BittorrentDhtItem | null> {
  return new Promise((resolve, reject) => {
    dht.get(target, { cache: false, ...(salt && { salt }) }, (err, item) =>
      err ? reject(err) : resolve(item),
    );
  });
}
