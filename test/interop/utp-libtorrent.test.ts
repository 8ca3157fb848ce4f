/**
 * Interop: shoal's uTP (BEP 29) against libtorrent 2.0's, with libtorrent's TCP switched off so
 * nothing but uTP can carry the connection. shoal's UtpSocket on a real UDP socket speaks the
 * BitTorrent wire protocol by hand over the stream: handshake, libtorrent's handshake for the
 * right info-hash and its bitfield, interested, unchoke, and a few requested blocks that must
 * equal the file's bytes. Both directions: shoal dials libtorrent, and libtorrent (told of
 * shoal with connect_peer) dials shoal's listening socket. And a whole download the other
 * way: a uTP-only libtorrent leecher fetches the file from a hand-written seed over shoal's
 * uTP, and its copy is byte-identical.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createRealRuntime } from '../../src/runtime/real.js';
import type { ByteStream } from '../../src/runtime/runtime.js';
import { UtpSocket } from '../../src/transport/utp/socket.js';
import {
  assertSameContent,
  copyContent,
  fileScope,
  makeTransferFixture,
  requireTool,
  startLibtorrent,
  type TransferFixture,
  tempDir,
  torrentOf,
} from './helpers.js';

const HOST = '127.0.0.1';
const PIECE = 32 * 1024;
const BLOCK = 16 * 1024;
const scope = fileScope();
let fixture: Promise<TransferFixture> | undefined;
const getFixture = () => {
  fixture ??= makeTransferFixture(scope, ['v1'], PIECE, { 'data.bin': 4_000_001 });
  return fixture;
};

/** A UtpSocket on a UDP socket bound to 127.0.0.1, closed when the test ends. */
async function endpoint(t: { after(fn: () => unknown): void }) {
  const rt = createRealRuntime();
  const udp = await rt.udp.bind({ port: 0, host: HOST });
  const utp = new UtpSocket(udp, {
    clock: rt.clock,
    timers: rt.timers,
    random: rt.random,
    local: udp.address(),
  });
  udp.onMessage((data, from) => utp.receive(data, from));
  t.after(async () => {
    utp.close();
    await udp.close();
  });
  return { udp, utp };
}

/** Reads a peer's handshake and length-prefixed messages from a stream, with timeouts. */
class WireReader {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private closed: Error | undefined;

  constructor(stream: ByteStream) {
    stream.onData((d) => {
      this.buf = Buffer.concat([this.buf, d]); // chunks are lent: concat copies
      this.waiter?.();
    });
    stream.onClose((e) => {
      this.closed = e ?? new Error('stream closed');
      this.waiter?.();
    });
  }

  async take(n: number, what: string, timeoutMs = 20_000): Promise<Buffer> {
    const deadline = performance.now() + timeoutMs;
    while (this.buf.length < n) {
      if (this.closed) throw new Error(`closed while waiting for ${what}: ${this.closed.message}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** The next message (keep-alives skipped): its id and payload. */
  async message(what: string, timeoutMs?: number): Promise<{ id: number; payload: Buffer }> {
    for (;;) {
      const len = (await this.take(4, what, timeoutMs)).readUInt32BE(0);
      if (len === 0) continue;
      const body = await this.take(len, what, timeoutMs);
      return { id: body[0]!, payload: body.subarray(1) };
    }
  }

  /** Skips messages until one with `id` arrives. */
  async until(id: number, what: string): Promise<Buffer> {
    for (;;) {
      const m = await this.message(what);
      if (m.id === id) return m.payload;
    }
  }
}

function handshake(infoHash: Buffer, peerId: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from([19]),
    Buffer.from('BitTorrent protocol', 'latin1'),
    Buffer.alloc(8),
    infoHash,
    peerId,
  ]);
}

const message = (id: number, payload: Buffer = Buffer.alloc(0)) => {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(payload.length + 1, 0);
  head[4] = id;
  return Buffer.concat([head, payload]);
};

/**
 * The BitTorrent exchange over an established uTP stream to a libtorrent seed: handshakes
 * (ours first when `weDialled`; else the first 20 bytes of its were read already), its
 * bitfield, interested → unchoke, then four blocks.
 */
async function leechOver(
  stream: ByteStream,
  reader: WireReader,
  fx: TransferFixture,
  weDialled: boolean,
) {
  const infoHash = Buffer.from(fx.infoHashes.v1!.v1!, 'hex');
  const content = await readFile(join(fx.content, 'data.bin'));
  const ours = handshake(infoHash, Buffer.from('-SH0001-utp-interop!', 'latin1'));
  if (weDialled) {
    stream.write(ours);
    const pstr = await reader.take(20, "libtorrent's handshake");
    assert.equal(pstr.subarray(1).toString('latin1'), 'BitTorrent protocol');
  }
  const theirs = Buffer.concat([Buffer.alloc(20), await reader.take(48, 'the handshake')]);
  assert.deepEqual(theirs.subarray(28, 48), infoHash, 'libtorrent answered for our torrent');
  if (!weDialled) stream.write(ours);
  const bitfield = await reader.until(5, 'bitfield');
  const pieces = Math.ceil(content.length / PIECE);
  assert.equal(bitfield.length, Math.ceil(pieces / 8));
  for (let i = 0; i < pieces; i++) assert.ok(bitfield[i >> 3]! & (0x80 >> (i & 7)), `has ${i}`);
  stream.write(message(2)); // interested
  await reader.until(1, 'unchoke');
  const wanted = [
    [0, 0],
    [0, BLOCK],
    [3, BLOCK],
    [pieces - 1, 0],
  ] as const;
  for (const [index, begin] of wanted) {
    const req = Buffer.alloc(12);
    req.writeUInt32BE(index, 0);
    req.writeUInt32BE(begin, 4);
    req.writeUInt32BE(Math.min(BLOCK, content.length - index * PIECE - begin), 8);
    stream.write(message(6, req));
  }
  const got = new Map<string, Buffer>();
  while (got.size < wanted.length) {
    const piece = await reader.until(7, 'piece');
    got.set(`${piece.readUInt32BE(0)}:${piece.readUInt32BE(4)}`, Buffer.from(piece.subarray(8)));
  }
  for (const [index, begin] of wanted) {
    const at = index * PIECE + begin;
    const expected = content.subarray(at, Math.min(at + BLOCK, content.length));
    assert.deepEqual(got.get(`${index}:${begin}`), expected, `block ${index}:${begin}`);
  }
}

test('shoal dials a uTP-only libtorrent seed and downloads blocks', {
  timeout: 90_000,
}, async (t) => {
  if (!requireTool(t, 'libtorrent')) return;
  const fx = await getFixture();
  const seedDir = await tempDir(t, 'shoal-utp-seed-');
  await copyContent(fx, seedDir);
  const lt = await startLibtorrent(t, {
    mode: 'seed',
    torrent: torrentOf(fx, 'v1'),
    savePath: seedDir,
    host: HOST,
    utpOnly: true,
  });
  const { utp } = await endpoint(t);
  const stream = await utp.connect(HOST, lt.port);
  await leechOver(stream, new WireReader(stream), fx, true);
  assert.equal(utp.counters.malformed, 0, 'every datagram from libtorrent decoded');
  stream.destroy();
});

test('a uTP-only libtorrent seed dials shoal and serves it blocks', {
  timeout: 90_000,
}, async (t) => {
  if (!requireTool(t, 'libtorrent')) return;
  const fx = await getFixture();
  const seedDir = await tempDir(t, 'shoal-utp-seed-');
  await copyContent(fx, seedDir);
  const { udp, utp } = await endpoint(t);
  // libtorrent tries an encrypted (MSE) handshake first; refused, it dials again in plaintext.
  let refused = 0;
  const plain = new Promise<{ stream: ByteStream; reader: WireReader }>((resolve) => {
    utp.onConnection((stream) => {
      const reader = new WireReader(stream);
      reader.take(20, 'the first bytes').then(
        (first) => {
          if (first.toString('latin1') === '\x13BitTorrent protocol') resolve({ stream, reader });
          else {
            refused++;
            stream.destroy();
          }
        },
        () => undefined,
      );
    });
  });
  await startLibtorrent(t, {
    mode: 'seed',
    torrent: torrentOf(fx, 'v1'),
    savePath: seedDir,
    host: HOST,
    utpOnly: true,
    peers: [`${HOST}:${udp.address().port}`],
  });
  const { stream, reader } = await plain;
  t.diagnostic(`connections refused for not starting with a plaintext handshake: ${refused}`);
  await leechOver(stream, reader, fx, false);
  assert.equal(utp.counters.malformed, 0, 'every datagram from libtorrent decoded');
  stream.destroy();
});

/** Serves the whole file as a seed would, over an established stream: answers every request. */
async function seedOver(stream: ByteStream, reader: WireReader, fx: TransferFixture) {
  const infoHash = Buffer.from(fx.infoHashes.v1!.v1!, 'hex');
  const content = await readFile(join(fx.content, 'data.bin'));
  const pieces = Math.ceil(content.length / PIECE);
  await reader.take(48, 'the handshake');
  stream.write(handshake(infoHash, Buffer.from('-SH0001-utp-seeder!!', 'latin1')));
  const bitfield = Buffer.alloc(Math.ceil(pieces / 8));
  for (let i = 0; i < pieces; i++) bitfield[i >> 3]! |= 0x80 >> (i & 7);
  stream.write(message(5, bitfield));
  for (;;) {
    const m = await reader.message('a request', 60_000);
    if (m.id === 2) stream.write(message(1)); // interested → unchoke
    if (m.id !== 6) continue;
    const index = m.payload.readUInt32BE(0);
    const begin = m.payload.readUInt32BE(4);
    const length = m.payload.readUInt32BE(8);
    const at = index * PIECE + begin;
    stream.write(
      message(7, Buffer.concat([m.payload.subarray(0, 8), content.subarray(at, at + length)])),
    );
  }
}

test('a uTP-only libtorrent leecher downloads a file from a seed on shoal uTP', {
  timeout: 90_000,
}, async (t) => {
  if (!requireTool(t, 'libtorrent')) return;
  const fx = await getFixture();
  const { udp, utp } = await endpoint(t);
  utp.onConnection((stream) => {
    const reader = new WireReader(stream);
    reader.take(20, 'the first bytes').then(
      (first) => {
        if (first.toString('latin1') !== '\x13BitTorrent protocol') stream.destroy();
        else seedOver(stream, reader, fx).catch(() => stream.destroy());
      },
      () => undefined,
    );
  });
  const saveDir = await tempDir(t, 'shoal-utp-leech-');
  const started = performance.now();
  const lt = await startLibtorrent(t, {
    mode: 'leech',
    torrent: torrentOf(fx, 'v1'),
    savePath: saveDir,
    host: HOST,
    utpOnly: true,
    peers: [`${HOST}:${udp.address().port}`],
    timeoutSeconds: 60,
  });
  assert.equal(await lt.proc.waitExit(70_000), 0, lt.proc.tail());
  t.diagnostic(
    `libtorrent fetched 4 MB over shoal's uTP in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  await assertSameContent(fx, saveDir);
  assert.equal(utp.counters.malformed, 0, 'every datagram from libtorrent decoded');
});
