import { NodeAdapter, SHOAL_VERSION } from '../../api/node-control.js';
import { ApiServer } from '../../api/server.js';
import { loadApiSettings, loadOrCreateToken } from '../../api/settings.js';
import { ShoalError } from '../../errors.js';
import { Node } from '../../node/node.js';
import type { Runtime } from '../../runtime/runtime.js';
import { clearDaemonUrl, writeDaemonUrl } from '../daemon-client.js';
import { configFromFlags, type NodeFlags, parsePeers } from '../node-options.js';
import { reportPortMapping } from '../port-mapping.js';
import { untilSignal } from '../signals.js';

/** Options of `shoal start`. */
export interface StartCommandOptions extends NodeFlags {
  readonly json?: boolean;
  readonly tracker?: string[];
  readonly peer?: string[];
  /** `--no-api` sets this false. */
  readonly api?: boolean;
  readonly apiPort?: string;
  readonly apiHost?: string;
  readonly apiUser?: string;
  readonly apiPassword?: string;
}

/**
 * `shoal start`: a long-running node that seeds its library and resumes unfinished downloads,
 * driven through its HTTP API, Transmission RPC and web UI (127.0.0.1:9091 by default).
 */
export async function startCommand(runtime: Runtime, opts: StartCommandOptions): Promise<number> {
  const config = await configFromFlags(runtime, opts);
  const peers = parsePeers(opts.peer ?? []);
  const apiPort = opts.apiPort === undefined ? undefined : Number(opts.apiPort);
  if (apiPort !== undefined && (!Number.isInteger(apiPort) || apiPort < 0 || apiPort > 65535))
    throw new ShoalError('USAGE', `--api-port must be 0..65535, not "${opts.apiPort}"`);
  const apiSettings = await loadApiSettings(runtime.fs, config.dataDir, {
    ...(opts.api === false && { enabled: false }),
    ...(apiPort !== undefined && { port: apiPort }),
    ...(opts.apiHost !== undefined && { host: opts.apiHost }),
    ...(opts.apiUser !== undefined && { user: opts.apiUser }),
    ...(opts.apiPassword !== undefined && { password: opts.apiPassword }),
  });
  const node = await Node.start(runtime, config);
  const say = (event: string, fields: Record<string, unknown>, text: string) =>
    process.stdout.write(opts.json ? `${JSON.stringify({ event, ...fields })}\n` : `${text}\n`);
  reportPortMapping(node, say, opts.json === true);
  node.on('done', (t) =>
    say('done', { infoHash: t.infoHashHex, name: t.meta.name }, `done: ${t.meta.name}`),
  );
  node.on('error', (e, t) =>
    say('error', { infoHash: t?.infoHashHex, message: e.message }, `error: ${e.message}`),
  );
  node.on('securePeer', (peer) => {
    const how = peer.kind === 'relayed' ? `relayed by ${peer.via}` : peer.kind;
    say(
      'securePeer',
      {
        identity: peer.key.toString(),
        kind: peer.kind,
        address: `${peer.remoteAddress}:${peer.remotePort}`,
        ...(peer.via !== undefined && { via: peer.via.toString() }),
        connections: node.peers.table.countByKind(),
      },
      `peer ${peer.key} (${how})`,
    );
  });
  node.on('published', (p) =>
    say(
      'published',
      { addresses: p.addresses, rendezvous: p.rendezvous, stored: p.stored },
      `published our address in the DHT (${p.stored} nodes): ${[...p.addresses, ...p.rendezvous.map((r) => `via ${r}`)].join(', ')}`,
    ),
  );
  let api: ApiServer | undefined;
  try {
    const control = new NodeAdapter(node, runtime);
    const count = await control.resumeLibrary({ peers, trackers: opts.tracker ?? [] });
    let apiUrl: string | undefined;
    if (apiSettings.enabled) {
      const token = await loadOrCreateToken(runtime.fs, runtime.random, config.dataDir);
      api = await ApiServer.start({
        runtime,
        control,
        settings: apiSettings,
        token,
        version: SHOAL_VERSION,
        streams: node.createStreamServer(),
      }).catch((error: Error) => {
        throw new ShoalError(
          'LISTEN_FAILED',
          `cannot serve the API on ${apiSettings.host}:${apiSettings.port}: ${error.message} (another shoal start? try --api-port N or --no-api)`,
          { cause: error },
        );
      });
      const host = apiSettings.host.includes(':') ? `[${apiSettings.host}]` : apiSettings.host;
      apiUrl = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${api.port}`;
      await writeDaemonUrl(runtime.fs, config.dataDir, apiUrl);
    }
    say(
      'started',
      {
        port: node.port,
        identity: node.key.toString(),
        dataDir: config.dataDir,
        torrents: count,
        api: apiUrl ?? null,
      },
      `shoal node ${node.key} on port ${node.port}, data in ${config.dataDir}, ${count} torrent(s)` +
        (apiUrl ? `; web UI and API on ${apiUrl}` : '') +
        '; Ctrl-C to stop',
    );
    for (const s of control.summaries()) {
      say(
        'torrent',
        { infoHash: s.id, name: s.name, state: s.state, progress: s.progress },
        `  ${s.state.padEnd(11)} ${(s.progress * 100).toFixed(1).padStart(5)}%  ${s.name}`,
      );
    }
    await untilSignal();
    say('stopping', {}, 'stopping…');
    return 0;
  } finally {
    if (api) {
      await api.close();
      await clearDaemonUrl(runtime.fs, config.dataDir);
    }
    await node.stop();
  }
}
