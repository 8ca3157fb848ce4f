import { Node } from '../../node/node.js';
import type { Runtime } from '../../runtime/runtime.js';
import { configFromFlags, type NodeFlags } from '../node-options.js';
import { untilSignal } from '../signals.js';

/** `shoal start`: a long-running node that seeds its library and resumes unfinished downloads. */
export async function startCommand(
  runtime: Runtime,
  opts: NodeFlags & { json?: boolean },
): Promise<number> {
  const config = await configFromFlags(runtime, opts);
  const node = await Node.start(runtime, config);
  const say = (event: string, fields: Record<string, unknown>, text: string) =>
    process.stdout.write(opts.json ? `${JSON.stringify({ event, ...fields })}\n` : `${text}\n`);
  node.on('done', (t) =>
    say('done', { infoHash: t.infoHashHex, name: t.meta.name }, `done: ${t.meta.name}`),
  );
  node.on('error', (e, t) =>
    say('error', { infoHash: t?.infoHashHex, message: e.message }, `error: ${e.message}`),
  );
  try {
    const torrents = await node.resumeLibrary();
    say(
      'started',
      { port: node.port, dataDir: config.dataDir, torrents: torrents.length },
      `shoal node on port ${node.port}, data in ${config.dataDir}, ${torrents.length} torrent(s); Ctrl-C to stop`,
    );
    for (const t of torrents) {
      const s = t.stats();
      say(
        'torrent',
        { infoHash: s.infoHash, name: s.name, state: s.state, progress: s.progress },
        `  ${s.state.padEnd(11)} ${(s.progress * 100).toFixed(1).padStart(5)}%  ${s.name}`,
      );
    }
    await untilSignal();
    say('stopping', {}, 'stopping…');
    return 0;
  } finally {
    await node.stop();
  }
}
