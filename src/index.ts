/**
 * The shoal library. Everything a program needs to read, write and inspect torrents, and the
 * runtime seam the rest of shoal is built on.
 */
export { keywords } from './apps/search/keywords.js';
export type { SearchResult } from './apps/search/result-set.js';
export {
  type SearchEngineOptions,
  SearchQueryError,
  type StrategyName,
} from './apps/search/search-engine.js';
export type { SearchSession } from './apps/search/search-session.js';
export type { SharedItem } from './apps/search/share-index.js';
export {
  type BDict,
  BencodeError,
  type BencodeLimits,
  type BList,
  type BValue,
  DEFAULT_BENCODE_LIMITS,
  decode,
  decodePrefix,
  type Encodable,
  encode,
  tryDecode,
} from './codec/bencode.js';
export { Bitfield } from './codec/bitfield.js';
export { HashPool } from './crypto/hash-pool.js';
export { Identity, IdentityError, IdentityKey } from './crypto/identity.js';
export { ShoalError, UsageError } from './errors.js';
export {
  type CreatedTorrent,
  type CreateTorrentOptions,
  createTorrent,
} from './metainfo/create.js';
export { MagnetError, MetainfoError, UnsafePathError } from './metainfo/errors.js';
export {
  formatMagnet,
  type MagnetLink,
  magnetFromMetainfo,
  parseMagnet,
} from './metainfo/magnet.js';
export {
  DEFAULT_METAINFO_LIMITS,
  type MetainfoLimits,
  parseInfoDictionary,
  parseTorrent,
} from './metainfo/parse.js';
export { PathClashError } from './metainfo/path-clashes.js';
export { choosePieceLength } from './metainfo/piece-length.js';
export type { Metainfo, TorrentFile, TorrentVersion } from './metainfo/types.js';
export {
  ConfigError,
  defaultConfig,
  defaultDataDir,
  loadConfig,
  type NodeConfig,
} from './node/config.js';
export {
  type AddTorrentOptions,
  DuplicateTorrentError,
  Node,
  type NodeEvents,
} from './node/node.js';
export {
  OVERLAY_INFOHASH,
  OverlayService,
  type OverlayServiceOptions,
  type OverlayViews,
} from './node/overlay-service.js';
export type { PeerContact } from './overlay/contact.js';
export { OverlayMessageError, OverlayUnavailableError } from './overlay/errors.js';
export type { OverlayTransport } from './overlay/mux-links.js';
export type { AddressRecord, RendezvousPoint } from './peers/address-record.js';
export { PeerConnectError } from './peers/errors.js';
export { type ConnectionKind, PeerConnection } from './peers/peer-connection.js';
export type { ProtocolHandler } from './peers/peer-table.js';
export { type ConnectOptions, SecurePeers } from './peers/secure-peers.js';
export { EgressDeniedError, type EgressMode, EgressPolicy } from './runtime/egress.js';
export { SecretFileError, UnsafeFileError } from './runtime/errors.js';
export { ManualClock } from './runtime/manual-clock.js';
export { createRealRuntime, IoError, realFs } from './runtime/real.js';
export type * from './runtime/runtime.js';
export { SeededRandom } from './runtime/seeded-random.js';
export type { Channel } from './secure/channel.js';
export { type ChannelRequest, Mux } from './secure/mux.js';
export { fetchMetadata, MetadataError } from './swarm/metadata-fetcher.js';
export {
  DEFAULT_SWARM_OPTIONS,
  type SwarmOptions,
  Torrent,
  TorrentError,
  type TorrentEvents,
  type TorrentState,
  type TorrentStats,
} from './swarm/torrent.js';
export { WireError } from './wire/errors.js';
