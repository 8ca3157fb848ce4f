import type { CollectedMetric, CounterSeries, MetricsRegistry } from '../metrics/registry.js';
import type { Message } from '../wire/messages.js';
import type { HashExchangeStats } from './hash-exchange.js';

/** Every peer wire message type, so each gets its counter handle up front. */
const MESSAGE_TYPES: readonly Message['type'][] = [
  'keep-alive',
  'choke',
  'unchoke',
  'interested',
  'not-interested',
  'have',
  'bitfield',
  'request',
  'piece',
  'cancel',
  'port',
  'suggest',
  'have-all',
  'have-none',
  'reject',
  'allowed-fast',
  'extended',
  'hash-request',
  'hashes',
  'hash-reject',
];

/**
 * Node-wide peer wire counts (messages by type, payload bytes): one family for every torrent,
 * so 10,000 torrents stay cheap.
 */
export class PeerWireMetrics {
  private readonly inByType = new Map<string, CounterSeries>();
  private readonly outByType = new Map<string, CounterSeries>();
  private readonly otherIn: CounterSeries;
  private readonly otherOut: CounterSeries;
  /** Piece payload bytes over every torrent. */
  readonly payloadIn: CounterSeries;
  readonly payloadOut: CounterSeries;

  constructor(registry: MetricsRegistry) {
    const payload = registry.counter({
      name: 'shoal_payload_bytes_total',
      help: 'Piece payload bytes over every torrent, by direction.',
      labelNames: ['direction'],
    });
    this.payloadIn = payload.labels({ direction: 'in' });
    this.payloadOut = payload.labels({ direction: 'out' });
    const messages = registry.counter({
      name: 'shoal_peer_messages_total',
      help: 'Peer wire messages, by direction and type.',
      labelNames: ['direction', 'type'],
    });
    for (const type of MESSAGE_TYPES) {
      this.inByType.set(type, messages.labels({ direction: 'in', type }));
      this.outByType.set(type, messages.labels({ direction: 'out', type }));
    }
    this.otherIn = messages.labels({ direction: 'in', type: 'other' });
    this.otherOut = messages.labels({ direction: 'out', type: 'other' });
  }

  received(type: string): void {
    (this.inByType.get(type) ?? this.otherIn).inc();
  }

  sent(type: string): void {
    (this.outByType.get(type) ?? this.otherOut).inc();
  }
}

/** What a torrent's computed gauges read when the registry is read. */
export interface TorrentGaugeSource {
  haveBytes(): number;
  sizeBytes(): number;
  piecesHave(): number;
  pieceCount(): number;
  peers(): number;
  banned(): number;
  hashExchange(): HashExchangeStats;
}

/**
 * One torrent's counts, in the child registry `{torrent}` the node gives it: payload bytes each
 * way, wasted bytes, pieces verified and failed; and gauges computed when read. `Torrent.stats()`
 * reads these same series, so stats, `--json` lines and `/metrics` agree by construction.
 */
export class TorrentMetrics {
  readonly bytesIn: CounterSeries;
  readonly bytesOut: CounterSeries;
  readonly wasted: CounterSeries;
  /** Of `bytesIn`, the bytes that came from web seeds (BEP 19). */
  readonly webSeedBytes: CounterSeries;
  readonly piecesVerified: CounterSeries;
  readonly piecesFailed: CounterSeries;
  private readonly computed: CollectedMetric[];

  constructor(
    readonly registry: MetricsRegistry,
    source: TorrentGaugeSource,
  ) {
    const bytes = registry.counter({
      name: 'shoal_torrent_bytes_total',
      help: 'Piece payload bytes, by direction.',
      labelNames: ['direction'],
    });
    this.bytesIn = bytes.labels({ direction: 'in' });
    this.bytesOut = bytes.labels({ direction: 'out' });
    this.wasted = registry
      .counter({
        name: 'shoal_torrent_wasted_bytes_total',
        help: 'Bytes received in pieces that failed their hash check.',
      })
      .labels({});
    this.webSeedBytes = registry
      .counter({
        name: 'shoal_torrent_web_seed_bytes_total',
        help: 'Piece payload bytes received from web seeds (BEP 19), also counted in bytes in.',
      })
      .labels({});
    const pieces = registry.counter({
      name: 'shoal_torrent_pieces_checked_total',
      help: 'Pieces hash-checked after download, by result.',
      labelNames: ['result'],
    });
    this.piecesVerified = pieces.labels({ result: 'verified' });
    this.piecesFailed = pieces.labels({ result: 'failed' });
    this.computed = [
      registry.counter({
        name: 'shoal_torrent_hash_requests_total',
        help: 'BEP 52 hash requests from peers, by result.',
        labelNames: ['result'],
        collect: () => {
          const h = source.hashExchange();
          return [
            [{ result: 'served' }, h.served],
            [{ result: 'refused' }, h.refused],
          ];
        },
      }),
      registry.counter({
        name: 'shoal_torrent_piece_layers_fetched_total',
        help: 'BEP 52 piece layers fetched from peers and proved.',
        collect: () => source.hashExchange().layersFetched,
      }),
      registry.gauge({
        name: 'shoal_torrent_have_bytes',
        help: 'Bytes of the content verified and held.',
        collect: () => source.haveBytes(),
      }),
      registry.gauge({
        name: 'shoal_torrent_size_bytes',
        help: 'Bytes of the content.',
        collect: () => source.sizeBytes(),
      }),
      registry.gauge({
        name: 'shoal_torrent_pieces',
        help: 'Pieces, by state.',
        labelNames: ['state'],
        collect: () => [
          [{ state: 'have' }, source.piecesHave()],
          [{ state: 'missing' }, source.pieceCount() - source.piecesHave()],
        ],
      }),
      registry.gauge({
        name: 'shoal_torrent_peers',
        help: 'Peers connected.',
        collect: () => source.peers(),
      }),
      registry.gauge({
        name: 'shoal_torrent_banned_peers',
        help: 'Addresses this torrent banned for bad data.',
        collect: () => source.banned(),
      }),
    ];
  }

  /** The torrent is gone: its series leave the registry. */
  close(): void {
    for (const c of this.computed) c.unregister();
    this.registry.dispose();
  }
}
