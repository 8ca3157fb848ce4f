import { UsageError } from '../../errors.js';
import type { Runtime } from '../../runtime/runtime.js';
import { TrackerServer } from '../../tracker/server.js';
import { untilSignal } from '../signals.js';

/** Options of `shoal tracker`. */
export interface TrackerCommandOptions {
  readonly httpPort?: string;
  readonly udpPort?: string;
  readonly host?: string;
  readonly allow: string[];
  readonly interval?: string;
  readonly rateLimit?: string;
  readonly maxSwarms?: string;
  readonly maxPeers?: string;
  readonly json?: boolean;
}

function port(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`${flag} must be 0..65535, not "${text}"`);
  return n;
}

function positive(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0)
    throw new UsageError(`${flag} must be a non-negative number, not "${text}"`);
  return n;
}

/** `shoal tracker`: runs an HTTP + UDP BitTorrent tracker until stopped. */
export async function trackerCommand(
  runtime: Runtime,
  opts: TrackerCommandOptions,
): Promise<number> {
  let httpPort = port(opts.httpPort, '--http-port');
  let udpPort = port(opts.udpPort, '--udp-port');
  if (httpPort === undefined && udpPort === undefined) {
    httpPort = 6969;
    udpPort = 6969;
  }
  for (const h of opts.allow) {
    if (!/^[0-9a-fA-F]{40}$/.test(h))
      throw new UsageError(`--allow takes a 40-hex-digit info-hash, not "${h}"`);
  }
  const interval = positive(opts.interval, '--interval');
  const rate = positive(opts.rateLimit, '--rate-limit');
  const maxSwarms = positive(opts.maxSwarms, '--max-swarms');
  const maxPeers = positive(opts.maxPeers, '--max-peers');
  const server = await TrackerServer.start(runtime, {
    ...(httpPort !== undefined && { httpPort }),
    ...(udpPort !== undefined && { udpPort }),
    host: opts.host ?? '0.0.0.0',
    ...(opts.allow.length > 0 && { allowList: new Set(opts.allow.map((h) => h.toLowerCase())) }),
    ...(interval !== undefined && {
      intervalSeconds: interval,
      minIntervalSeconds: Math.floor(interval / 2),
      peerTimeoutSeconds: interval * 2 + 60,
    }),
    ...(rate !== undefined && { perIpRate: rate, perIpBurst: Math.max(1, rate * 2) }),
    ...(maxSwarms !== undefined && { maxSwarms }),
    ...(maxPeers !== undefined && { maxPeers }),
  });
  const ports = server.ports;
  const host = opts.host ?? '0.0.0.0';
  if (opts.json)
    process.stdout.write(`${JSON.stringify({ event: 'listening', host, ...ports })}\n`);
  else {
    const lines = [
      ...(ports.http !== undefined
        ? [`http://${host}:${ports.http}/announce (stats: /stats)`]
        : []),
      ...(ports.udp !== undefined ? [`udp://${host}:${ports.udp}`] : []),
    ];
    process.stdout.write(`tracker listening:\n  ${lines.join('\n  ')}\nCtrl-C to stop\n`);
  }
  try {
    await untilSignal();
    return 0;
  } finally {
    await server.stop();
  }
}
