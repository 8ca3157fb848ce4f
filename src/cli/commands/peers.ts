import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { exportIdentity, importIdentity, loadOrCreateIdentity } from '../../node/identity-store.js';
import { Node } from '../../node/node.js';
import type { PeerConnection } from '../../peers/peer-connection.js';
import type { Runtime } from '../../runtime/runtime.js';
import { configFromFlags, type NodeFlags, parsePeers } from '../node-options.js';
import { untilSignal } from '../signals.js';

/** Options of `shoal id`. */
export interface IdCommandOptions {
  readonly dataDir?: string;
  readonly export?: string;
  readonly import?: string;
  readonly force?: boolean;
  readonly json?: boolean;
}

/**
 * `shoal id`: prints this node's public key (making the identity on first use), or exports it
 * to a file or imports one (`--force` to replace a different identity).
 */
export async function idCommand(runtime: Runtime, opts: IdCommandOptions): Promise<number> {
  if (opts.export !== undefined && opts.import !== undefined)
    throw new UsageError('--export and --import cannot go together');
  const { dataDir } = await configFromFlags(runtime, {
    ...(opts.dataDir !== undefined && { dataDir: opts.dataDir }),
  });
  const print = (fields: Record<string, unknown>, text: string) =>
    process.stdout.write(opts.json ? `${JSON.stringify(fields)}\n` : `${text}\n`);
  if (opts.import !== undefined) {
    const file = resolve(opts.import);
    const identity = await importIdentity(runtime.fs, dataDir, file, opts.force === true);
    const key = identity.publicKey.toString();
    print(
      { identity: key, imported: file },
      `${key}\n(imported from ${file}; a running node uses it once restarted)`,
    );
    return 0;
  }
  const { identity, created } = await loadOrCreateIdentity(runtime.fs, runtime.random, dataDir);
  const key = identity.publicKey.toString();
  if (opts.export !== undefined) {
    const file = resolve(opts.export);
    await exportIdentity(runtime.fs, identity, file, opts.force === true);
    print(
      { identity: key, exported: file },
      `${key}\n(exported to ${file}: the secret key, readable by you only — keep it safe)`,
    );
    return 0;
  }
  print({ identity: key, created }, key);
  return 0;
}

/** Options of `shoal connect` and `shoal ping`. */
export interface ReachOptions extends NodeFlags {
  /** `--peer HOST:PORT`: addresses to try directly before anything else. */
  readonly peer?: string[];
  /** Seconds to try for. */
  readonly timeout?: string;
  readonly json?: boolean;
}

/** Options of `shoal ping`. */
export interface PingOptions extends ReachOptions {
  readonly count?: string;
  /** Milliseconds between pings. */
  readonly interval?: string;
}

type Say = (event: string, fields: Record<string, unknown>, text: string) => void;

/**
 * Starts a node that only dials (it publishes nothing and relays for nobody), with this data
 * folder's identity, on any free port unless `--port` says otherwise; reaches `key`; hands the
 * connection to `use`.
 */
async function reach(
  runtime: Runtime,
  keyText: string,
  opts: ReachOptions,
  use: (peer: PeerConnection, say: Say) => Promise<number>,
): Promise<number> {
  const say: Say = (event, fields, text) =>
    process.stdout.write(opts.json ? `${JSON.stringify({ event, ...fields })}\n` : `${text}\n`);
  const timeoutSeconds = opts.timeout === undefined ? 30 : Number(opts.timeout);
  if (!(timeoutSeconds > 0)) throw new UsageError(`--timeout takes seconds, not "${opts.timeout}"`);
  const addresses = parsePeers(opts.peer ?? []);
  const config = await configFromFlags(runtime, opts);
  const node = await Node.start(runtime, {
    ...config,
    port: opts.port === undefined ? 0 : config.port,
    publishAddress: false,
    relay: false,
  });
  try {
    const started = runtime.clock.now();
    const connecting = node.connect(keyText, { addresses, timeoutMs: timeoutSeconds * 1000 });
    const peer = await Promise.race([connecting, untilSignal()]);
    if (peer === 'signal') return 130;
    const ms = runtime.clock.now() - started;
    const address = `${peer.remoteAddress}:${peer.remotePort}`;
    const how = peer.kind === 'relayed' ? `relayed by ${peer.via}` : `${peer.kind}, ${address}`;
    say(
      'connected',
      {
        identity: peer.key.toString(),
        kind: peer.kind,
        address,
        ...(peer.via !== undefined && { via: peer.via.toString() }),
        ms: Math.round(ms),
        self: node.key.toString(),
      },
      `connected to ${peer.key} (${how}) in ${Math.round(ms)} ms`,
    );
    return await use(peer, say);
  } finally {
    await node.stop();
  }
}

/** `shoal connect <key>`: finds the key (DHT, rendezvous) and reports how it was reached. */
export function connectCommand(runtime: Runtime, key: string, opts: ReachOptions): Promise<number> {
  return reach(runtime, key, opts, async () => 0);
}

/** `shoal ping <key>`: reaches the key, then measures round-trip times like ping(8). */
export function pingCommand(runtime: Runtime, key: string, opts: PingOptions): Promise<number> {
  const count = opts.count === undefined ? 4 : Number(opts.count);
  const interval = opts.interval === undefined ? 1000 : Number(opts.interval);
  if (!Number.isInteger(count) || count < 1)
    throw new UsageError(`--count takes a whole number ≥ 1, not "${opts.count}"`);
  if (!(interval >= 0))
    throw new UsageError(`--interval takes milliseconds, not "${opts.interval}"`);
  return reach(runtime, key, opts, async (peer, say) => {
    const rtts: number[] = [];
    for (let seq = 1; seq <= count; seq++) {
      try {
        const rtt = await peer.ping(5_000);
        rtts.push(rtt);
        say(
          'pong',
          { seq, rttMs: rtt },
          `pong from ${peer.key}: seq=${seq} time=${rtt.toFixed(2)} ms`,
        );
      } catch (error) {
        say(
          'lost',
          { seq, message: (error as Error).message },
          `no pong: seq=${seq}: ${(error as Error).message}`,
        );
      }
      if (seq < count) await new Promise<void>((done) => runtime.timers.setTimeout(done, interval));
    }
    const lost = count - rtts.length;
    const stats =
      rtts.length === 0
        ? ''
        : `; rtt min/avg/max = ${Math.min(...rtts).toFixed(2)}/${(rtts.reduce((a, b) => a + b, 0) / rtts.length).toFixed(2)}/${Math.max(...rtts).toFixed(2)} ms`;
    say(
      'done',
      { sent: count, received: rtts.length, kind: peer.kind },
      `${count} pings, ${rtts.length} pongs, ${Math.round((lost / count) * 100)} % lost${stats}`,
    );
    return rtts.length > 0 ? 0 : 1;
  });
}
