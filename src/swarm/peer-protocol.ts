import { Bitfield } from '../codec/bitfield.js';
import type { Metainfo } from '../metainfo/types.js';
import type { TransportKind } from '../net/connection.js';
import type { ConnectionManager } from '../net/connection-manager.js';
import type { Clock } from '../runtime/runtime.js';
import { WireError } from '../wire/errors.js';
import {
  decodeExtendedHandshake,
  type ExtensionRegistry,
  encodeExtendedHandshake,
} from '../wire/extended.js';
import { type Handshake, hasCapability, reservedBytes } from '../wire/handshake.js';
import type { Message } from '../wire/messages.js';
import type { Blame } from './blame.js';
import { type HashExchange, HashesInvalidError } from './hash-exchange.js';
import type { PeerSession } from './peer-session.js';
import type { PeerSet } from './peer-set.js';
import type { PiecePicker } from './piece-picker.js';
import type { RequestScheduler } from './request-scheduler.js';
import type { Uploader } from './uploader.js';

/** Suggestions (BEP 6) remembered per peer; older ones are forgotten first. */
const MAX_SUGGESTED = 16;
/** A seed we meet while seeding is not dialled again for this long. */
const SEED_REDIAL_MS = 30 * 60_000;

/** What the protocol dispatcher needs from its torrent. */
export interface PeerProtocolDeps {
  readonly meta: Metainfo;
  readonly handshakeHashes: readonly Buffer[];
  readonly peerId: Buffer;
  readonly clock: Clock;
  readonly have: Bitfield;
  readonly picker: PiecePicker;
  readonly peers: PeerSet;
  readonly connections: ConnectionManager;
  readonly scheduler: RequestScheduler;
  readonly uploader: Uploader;
  readonly hashes: HashExchange;
  readonly blame: Blame;
  readonly extensions: ExtensionRegistry<PeerSession>;
  readonly clientName: string;
  readonly maxIncomingRequests: number;
  /** Our TCP listen port, sent in the extended handshake. */
  readonly listenPort: () => number;
  /** The node's DHT, when it runs one (BEP 5 port messages). */
  readonly dht?: { port(): number; nodeSeen(host: string, port: number): void };
  readonly downloading: () => boolean;
}

/**
 * The BitTorrent peer protocol as one torrent speaks it: our handshake, the checks on the
 * peer's (right torrent, not ourselves, one connection per peer, not banned), what we say
 * first (extended handshake, what we have, our DHT port), and where each message goes — the
 * request scheduler, the uploader, the hash exchange or an extension. Protocol violations
 * throw `WireError` and the peer set drops the peer.
 */
export class PeerProtocol {
  constructor(private readonly deps: PeerProtocolDeps) {}

  /** Our handshake for `infoHash`. */
  ourHandshake(infoHash: Buffer): Handshake {
    const { meta, dht } = this.deps;
    return {
      reserved: reservedBytes([
        'extensionProtocol',
        'fast',
        ...(meta.infoHashV2 ? (['v2'] as const) : []),
        ...(dht && !meta.private ? (['dht'] as const) : []),
      ]),
      infoHash,
      peerId: this.deps.peerId,
    };
  }

  onHandshake(session: PeerSession, h: Handshake): void {
    const d = this.deps;
    const known = d.handshakeHashes.some((x) => x.equals(h.infoHash));
    if (!known) throw new WireError('handshake for a different torrent');
    if (Buffer.from(h.peerId).equals(d.peerId)) throw new WireError('connected to ourselves');
    for (const other of d.peers.all()) {
      if (
        other === session ||
        !other.handshake ||
        !Buffer.from(other.handshake.peerId).equals(h.peerId)
      )
        continue;
      if (keepsNewConnection(session, other, d.peerId, h.peerId)) {
        d.peers.drop(other, undefined);
        break;
      }
      throw new WireError('already connected to this peer');
    }
    if (d.connections.isBanned(session.host)) throw new WireError('banned peer');
    session.handshake = h;
    session.fast = hasCapability(h.reserved, 'fast');
    session.ensureBits(d.meta.pieceCount);
    if (hasCapability(h.reserved, 'extensionProtocol')) {
      const yourip = ipBytes(session.host);
      const payload = encodeExtendedHandshake({
        m: d.extensions.m,
        v: d.clientName,
        p: d.listenPort(),
        reqq: d.maxIncomingRequests,
        ...d.extensions.handshakeFields(),
        ...(yourip && { yourip }),
      });
      session.wire.sendMessage({ type: 'extended', id: 0, payload });
    }
    session.seedAtHandshake = d.have.complete;
    if (session.fast && d.have.complete) session.wire.sendMessage({ type: 'have-all' });
    else if (session.fast && d.have.cardinality === 0)
      session.wire.sendMessage({ type: 'have-none' });
    else if (d.have.cardinality > 0)
      session.wire.sendMessage({ type: 'bitfield', bits: d.have.bytes });
    const dhtPort = d.dht?.port();
    if (dhtPort && !d.meta.private && hasCapability(h.reserved, 'dht')) {
      session.wire.sendMessage({ type: 'port', port: dhtPort });
    }
  }

  onMessage(session: PeerSession, m: Message): void {
    const d = this.deps;
    const pieceCount = d.meta.pieceCount;
    if (!session.spoke) {
      session.spoke = true;
      // Its handshake alone proves little (a full peer answers and closes): a message does.
      if (session.outgoing && d.peers.candidate(session.address))
        d.connections.dialSucceeded(
          session.stream.remoteAddress,
          session.stream.remotePort,
          d.handshakeHashes[0]!.toString('hex'),
        );
    }
    switch (m.type) {
      case 'keep-alive':
        return;
      case 'bitfield': {
        if (!Bitfield.isValid(pieceCount, m.bits))
          throw new WireError('bitfield of the wrong size');
        // BEP 3 sends the bitfield only first, but aria2 also sends one later instead of a run
        // of haves (after have-none, even); take a late one as the peer's new set of pieces.
        this.setPeerBits(session, new Bitfield(pieceCount, m.bits));
        return;
      }
      case 'have-all':
      case 'have-none':
        if (!session.fast) throw new WireError(`${m.type} without the fast extension`);
        this.setPeerBits(
          session,
          m.type === 'have-all' ? Bitfield.full(pieceCount) : new Bitfield(pieceCount),
        );
        return;
      case 'have': {
        if (m.index >= pieceCount) throw new WireError(`have for piece ${m.index} out of range`);
        const bits = session.ensureBits(pieceCount);
        if (!bits.has(m.index)) {
          bits.set(m.index);
          d.picker.addHave(m.index);
          // One more piece can only add interest: no need to scan their bitfield again. A
          // piece we have already adds nothing to ask them for.
          if (d.picker.wants(m.index)) {
            if (session.wire.amInterested) d.scheduler.fillRequests(session);
            else if (d.downloading()) this.updateInterest(session);
          }
        }
        if (d.have.complete && bits.complete) d.peers.drop(session, undefined); // both seeds
        return;
      }
      case 'choke':
        // BEP 6: with the fast extension a choke no longer cancels requests; the peer rejects
        // those it will not serve, and blocks already on their way still arrive.
        if (!session.fast) d.scheduler.onChoke(session);
        return;
      case 'unchoke':
        d.scheduler.fillRequests(session);
        return;
      case 'interested':
        d.uploader.onInterested(session);
        return;
      case 'not-interested':
        d.uploader.onNotInterested(session);
        return;
      case 'request':
        d.uploader.onRequest(session, m);
        return;
      case 'cancel':
        d.uploader.onCancel(session, m);
        return;
      case 'piece':
        d.scheduler.onBlock(session, m.index, m.begin, m.block);
        return;
      case 'reject':
        if (!session.fast) throw new WireError('reject without the fast extension');
        d.scheduler.onReject(session, m.index, m.begin);
        return;
      case 'allowed-fast':
        if (m.index < pieceCount) session.allowedFast.add(m.index);
        if (session.allowedFast.size > 64) throw new WireError('too many allowed-fast pieces');
        d.scheduler.fillRequests(session);
        return;
      case 'extended':
        if (m.id === 0) session.extended = decodeExtendedHandshake(m.payload);
        else d.extensions.dispatch(session, m.id, m.payload);
        return;
      case 'suggest':
        session.suggests = true;
        if (m.index < pieceCount && !d.have.has(m.index)) {
          session.suggested.add(m.index);
          if (session.suggested.size > MAX_SUGGESTED)
            session.suggested.delete(session.suggested.values().next().value!);
          d.scheduler.fillRequests(session);
        }
        return;
      case 'hash-request':
        d.hashes.onRequest(session, m);
        return;
      case 'hashes':
        try {
          d.hashes.onHashes(session, m);
        } catch (error) {
          // Hashes that fail their proof are provably bad data from this one peer.
          if (error instanceof HashesInvalidError && error.forged)
            d.blame.ban(session, 'forged hashes');
          throw error;
        }
        return;
      case 'hash-reject':
        d.hashes.onReject(session, m);
        return;
      case 'port':
        // BEP 5: the peer runs a DHT node there; let our DHT meet it.
        if (m.port > 0 && !d.meta.private) d.dht?.nodeSeen(session.host, m.port);
        return;
      default:
        return;
    }
  }

  /** Sends interested / not interested as what the peer has and we lack changes. */
  updateInterest(session: PeerSession): void {
    const d = this.deps;
    if (session.closed || !session.bits) return;
    const want = d.downloading() && d.picker.interestedIn(session.bits);
    if (want && !session.wire.amInterested) session.wire.sendMessage({ type: 'interested' });
    else if (!want && session.wire.amInterested)
      session.wire.sendMessage({ type: 'not-interested' });
    if (want) d.scheduler.fillRequests(session);
  }

  private setPeerBits(session: PeerSession, bits: Bitfield): void {
    const d = this.deps;
    if (session.bits && session.bits.cardinality > 0) d.picker.removePeer(session.bits);
    session.bits = bits;
    d.picker.addPeer(bits);
    if (d.have.complete && bits.complete) {
      // Two seeds have nothing to trade; and no redialling it every few seconds either.
      d.peers.postpone(session, SEED_REDIAL_MS);
      d.peers.drop(session, undefined);
      return;
    }
    this.updateInterest(session);
  }
}

/** Our address as the peer sees it, for `yourip` (IPv4 only). */
function ipBytes(host: string): Uint8Array | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host.replace(/^::ffff:/, ''));
  return m ? Uint8Array.from(m.slice(1, 5).map(Number)) : undefined;
}

/** What deciding between two connections to one peer looks at. */
export interface ConnectionSide {
  /** We dialled it. */
  readonly outgoing: boolean;
  readonly connection: { readonly transport: TransportKind };
}

/**
 * Two connections to one peer (both dialled at once, or one over uTP because the peer's TCP
 * port was not up yet): which one both sides keep, decided from what both sides know alike so
 * they agree. TCP wins over uTP (the kernel's TCP moves bytes for less CPU, and a uTP
 * connection yields to any queue on the path); between two of one transport, the one opened by
 * the peer with the lower id.
 */
export function keepsNewConnection(
  fresh: ConnectionSide,
  other: ConnectionSide,
  ourId: Uint8Array,
  theirId: Uint8Array,
): boolean {
  const freshTransport = fresh.connection.transport;
  if (freshTransport !== other.connection.transport && fresh.outgoing !== other.outgoing)
    return freshTransport === 'tcp';
  const keepOutgoing = Buffer.compare(Buffer.from(ourId), Buffer.from(theirId)) < 0;
  return fresh.outgoing === keepOutgoing && other.outgoing !== keepOutgoing;
}
