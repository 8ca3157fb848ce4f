/**
 * Helpers for the MSE interoperability tests: reading a peer's BitTorrent handshake and first
 * messages off a ByteStream, and the handshake and bitfield shoal sends.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha1 } from '../../src/crypto/hash.js';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import type { ByteStream } from '../../src/runtime/runtime.js';
import { mseConnect } from '../../src/transport/mse/handshake.js';
import type { MseAllow } from '../../src/transport/mse/protocol.js';
import {
  decodeHandshake,
  encodeHandshake,
  HANDSHAKE_BYTES,
  type Handshake,
  reservedBytes,
} from '../../src/wire/handshake.js';
import { rawHandshake, sendRaw } from '../support/raw-peer.js';

/** Our handshake: extension protocol only (no fast extension, so peers send a bitfield). */
export function ourHandshake(infoHash: Uint8Array): Buffer {
  return encodeHandshake({
    reserved: reservedBytes(['extensionProtocol']),
    infoHash,
    peerId: Buffer.from('-SH0001-mse-interop!', 'latin1'),
  });
}

/** A length-prefixed message `id` with 32-bit big-endian integer fields. */
export function message(id: number, ...fields: number[]): Buffer {
  const out = Buffer.alloc(5 + 4 * fields.length);
  out.writeUInt32BE(1 + 4 * fields.length, 0);
  out[4] = id;
  for (const [i, f] of fields.entries()) out.writeUInt32BE(f, 5 + 4 * i);
  return out;
}

/** A bitfield message saying we have all `pieceCount` pieces. */
export function fullBitfield(pieceCount: number): Buffer {
  const bytes = Buffer.alloc(Math.ceil(pieceCount / 8), 0xff);
  const spare = bytes.length * 8 - pieceCount;
  bytes[bytes.length - 1] = (0xff << spare) & 0xff;
  const header = Buffer.alloc(5);
  header.writeUInt32BE(bytes.length + 1, 0);
  header[4] = 5;
  return Buffer.concat([header, bytes]);
}

/** One complete message (not a keep-alive). */
export interface PeerMessage {
  readonly id: number;
  readonly payload: Buffer;
}

/** What a peer sent so far: its handshake, then its complete messages. */
export interface PeerTalk {
  readonly handshake: Handshake | undefined;
  readonly messages: readonly PeerMessage[];
  readonly messageIds: readonly number[];
  readonly bytes: number;
}

/** Parses `data` as a handshake followed by length-prefixed messages. */
function parse(data: Buffer): PeerTalk {
  const messages: PeerMessage[] = [];
  const talk = (handshake: Handshake | undefined): PeerTalk => ({
    handshake,
    messages,
    messageIds: messages.map((m) => m.id),
    bytes: data.length,
  });
  if (data.length < HANDSHAKE_BYTES) return talk(undefined);
  for (let at = HANDSHAKE_BYTES; at + 4 <= data.length; ) {
    const length = data.readUInt32BE(at);
    if (at + 4 + length > data.length) break;
    if (length > 0) {
      messages.push({ id: data[at + 4]!, payload: data.subarray(at + 5, at + 4 + length) });
    }
    at += 4 + length;
  }
  return talk(decodeHandshake(data.subarray(0, HANDSHAKE_BYTES)));
}

/**
 * Collects what a stream delivers from its first byte (the peer's BitTorrent handshake) and
 * lets a test wait for what it expects; a wait fails when the stream closes first or after
 * its timeout.
 */
export class PeerReader {
  private readonly chunks: Buffer[] = [];
  private talk: PeerTalk = parse(Buffer.alloc(0));
  private closed: string | undefined;
  private readonly waiters = new Set<() => void>();
  private onMessage: ((m: PeerMessage) => void) | undefined;
  private handled = 0;

  constructor(stream: ByteStream) {
    stream.onData((d) => {
      this.chunks.push(Buffer.from(d));
      this.talk = parse(Buffer.concat(this.chunks));
      this.dispatch();
      for (const w of [...this.waiters]) w();
    });
    stream.onClose((error) => {
      this.closed = error?.message ?? 'closed';
      for (const w of [...this.waiters]) w();
    });
  }

  /** Calls `handler` for every message, in order: those received so far, then each new one. */
  each(handler: (m: PeerMessage) => void): void {
    this.onMessage = handler;
    this.dispatch();
  }

  private dispatch(): void {
    const handler = this.onMessage;
    if (handler === undefined) return;
    for (; this.handled < this.talk.messages.length; this.handled++) {
      handler(this.talk.messages[this.handled]!);
    }
  }

  /** Resolves with everything received once `done` holds for it. */
  until(done: (talk: PeerTalk) => boolean, timeoutMs: number): Promise<PeerTalk> {
    return new Promise((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      const check = () => {
        if (done(this.talk)) {
          finish();
          resolve(this.talk);
        } else if (this.closed !== undefined) {
          finish();
          reject(new Error(`the peer closed (${this.closed}): ${describe(this.talk)}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`nothing expected within ${timeoutMs} ms: ${describe(this.talk)}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }
}

const describe = (t: PeerTalk) =>
  `${t.bytes} bytes, handshake ${t.handshake ? 'in' : 'missing'}, messages ${t.messageIds.join(',')}`;

/** What the MSE tests need of a torrent file. */
export async function torrentFacts(path: string) {
  const meta = parseTorrent(await readFile(path));
  return {
    infoHash: meta.infoHashV1!,
    pieceCount: meta.pieceCount,
    pieceLength: meta.pieceLength,
    pieceHashes: meta.pieces!,
  };
}

/** The content of a v1 torrent as one byte stream, files back to back (no padding). */
export async function v1Stream(contentDir: string, torrent: string): Promise<Buffer> {
  const meta = parseTorrent(await readFile(torrent));
  const out = Buffer.alloc(meta.streamLength);
  for (const f of meta.files) (await readFile(join(contentDir, ...f.path))).copy(out, f.offset);
  return out;
}

const BLOCK = 16 * 1024;

/**
 * Over a connection whose handshake and bitfield are in: says interested, waits for the
 * unchoke, requests every block of the first `pieces` pieces and checks each piece against its
 * SHA-1. Resolves with the number of pieces verified.
 */
export async function fetchPieces(
  stream: ByteStream,
  reader: PeerReader,
  torrent: { pieceLength: number; pieceHashes: Buffer },
  pieces: number,
): Promise<number> {
  const { pieceLength, pieceHashes } = torrent;
  const count = Math.min(pieces, pieceHashes.length / 20);
  stream.write(message(2));
  await reader.until((p) => p.messageIds.includes(1), 20_000);
  const requests: Buffer[] = [];
  for (let piece = 0; piece < count; piece++) {
    for (let begin = 0; begin < pieceLength; begin += BLOCK) {
      requests.push(message(6, piece, begin, BLOCK));
    }
  }
  stream.writev(requests);
  const fetched = await reader.until(
    (p) => p.messageIds.filter((id) => id === 7).length >= requests.length,
    30_000,
  );
  const content = Buffer.alloc(count * pieceLength);
  for (const m of fetched.messages) {
    if (m.id !== 7) continue;
    m.payload.copy(content, m.payload.readUInt32BE(0) * pieceLength + m.payload.readUInt32BE(4), 8);
  }
  for (let piece = 0; piece < count; piece++) {
    const got = sha1(content.subarray(piece * pieceLength, (piece + 1) * pieceLength));
    assert.ok(got.equals(pieceHashes.subarray(piece * 20, piece * 20 + 20)), `piece ${piece}`);
  }
  return count;
}

/** What {@link dialMain} is asked to do. */
export interface DialJob {
  readonly host: string;
  readonly port: number;
  readonly torrent: string;
  /** `mse`: dial with mseConnect and fetch `pieces`; `plain`: send a plaintext handshake. */
  readonly mode: 'mse' | 'plain';
  readonly allow?: MseAllow;
  readonly pieces?: number;
}

/** What {@link dialMain} reports (one JSON line on stdout). */
export interface DialReport {
  readonly encrypted?: boolean;
  readonly messageIds?: readonly number[];
  readonly verified?: number;
  readonly closedByPeer?: boolean;
  readonly received?: number;
}

/**
 * Dials a peer as a test in another network namespace needs it done from inside: a child
 * process runs this (`node --input-type=module -e`, see {@link dialCommand}) and prints a
 * {@link DialReport}.
 */
export async function dialMain(jobJson: string): Promise<void> {
  const job = JSON.parse(jobJson) as DialJob;
  const facts = await torrentFacts(job.torrent);
  let report: DialReport;
  if (job.mode === 'plain') {
    report = await sendRaw(job.host, job.port, [rawHandshake(facts.infoHash)], 5000);
  } else {
    const runtime = createRealRuntime();
    const socket = await runtime.tcp.connect(job.host, job.port, { timeoutMs: 5000 });
    try {
      const { stream, encrypted } = await mseConnect(socket, {
        infoHash: facts.infoHash,
        allow: job.allow ?? 'both',
        random: runtime.random,
        timers: runtime.timers,
        initialPayload: ourHandshake(facts.infoHash),
      });
      const reader = new PeerReader(stream);
      const got = await reader.until((p) => p.messageIds.includes(5), 15_000);
      assert.ok(got.handshake && Buffer.from(got.handshake.infoHash).equals(facts.infoHash));
      const verified = await fetchPieces(stream, reader, facts, job.pieces ?? 8);
      report = { encrypted, messageIds: got.messageIds, verified };
    } finally {
      socket.destroy();
    }
  }
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

/** The argv (after `node`) that runs {@link dialMain} for `job` in a fresh process. */
export function dialCommand(job: DialJob): string[] {
  const self = new URL(import.meta.url).href;
  return [
    '--input-type=module',
    '-e',
    `const m = await import(${JSON.stringify(self)}); await m.dialMain(process.argv[1]);`,
    JSON.stringify(job),
  ];
}
