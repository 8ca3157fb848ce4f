import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ManagedStream } from '../../src/net/connection.js';
import type { InboundProtocol, SniffVerdict } from '../../src/net/inbound-demux.js';
import { fixtureTorrent, startNode, whenDone } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';

/** A toy protocol: lines starting with "ECHO " are answered with the rest upper-cased. */
class EchoProtocol implements InboundProtocol {
  readonly name = 'echo';
  accepted = 0;

  sniff(first: Buffer): SniffVerdict {
    const magic = Buffer.from('ECHO ');
    const n = Math.min(first.length, magic.length);
    if (!first.subarray(0, n).equals(magic.subarray(0, n))) return 'no';
    return first.length >= magic.length ? 'yes' : 'more';
  }

  accept(stream: ManagedStream, first: Buffer): void {
    this.accepted++;
    let text = first.toString('latin1');
    const answer = () => {
      const end = text.indexOf('\n');
      if (end < 0) return;
      stream.write(Buffer.from(`${text.slice(5, end).toUpperCase()}\n`, 'latin1'));
      stream.end();
    };
    stream.onData((chunk) => {
      text += chunk.toString('latin1');
      answer();
    });
    answer();
  }
}

/** Sends `line` to `port` and resolves with the first line of the answer. */
function talk(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.on('connect', () => {
      // Split the magic across writes: the demultiplexer must wait for enough bytes.
      socket.write(line.slice(0, 2));
      setTimeout(() => socket.write(line.slice(2)), 20);
    });
    socket.on('data', (d) => {
      got += d.toString('latin1');
    });
    socket.on('close', () => resolve(got.trim()));
    socket.on('error', reject);
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer; got "${got}"`));
    }, 5000).unref();
  });
}

test('a toy protocol registered on the inbound demultiplexer shares the port with a BitTorrent transfer', async (t) => {
  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(dir, 'share', { 'data.bin': 8 * 1024 * 1024 });
  const seeder = await startNode(t);
  const echo = new EchoProtocol();
  seeder.inbound.register(echo);
  await seeder.add(torrent, { downloadDir: dir, persist: false });
  const leecher = await startNode(t);
  const out = join(dir, 'out');
  const getting = await leecher.add(torrent, {
    downloadDir: out,
    persist: false,
    peers: [{ host: '127.0.0.1', port: seeder.port }],
  });
  // Talk the toy protocol on the seeder's port again and again while the transfer runs.
  const answers: string[] = [];
  let transferring = true;
  const chatter = (async () => {
    for (let i = 0; transferring && i < 200; i++)
      answers.push(await talk(seeder.port, `ECHO hello ${i}\n`));
  })();
  await whenDone(getting);
  transferring = false;
  await chatter;
  assert.ok(answers.length >= 1, 'the toy protocol answered during the transfer');
  for (const [i, a] of answers.entries()) assert.equal(a, `HELLO ${i}`);
  assert.equal(echo.accepted, answers.length);
  assert.equal(seeder.inbound.counts.get('echo'), answers.length);
  // The leecher's BitTorrent connection came in too (encrypted by default: MSE).
  const bittorrent =
    (seeder.inbound.counts.get('bittorrent') ?? 0) + (seeder.inbound.counts.get('mse') ?? 0);
  assert.ok(bittorrent >= 1, 'BitTorrent came in too');
  const digest = async (p: string) =>
    createHash('sha256')
      .update(await readFile(p))
      .digest('hex');
  assert.equal(
    await digest(join(out, 'share', 'data.bin')),
    await digest(join(dir, 'share', 'data.bin')),
  );
});
