import type { TorrentDetail, TorrentSummary } from './control.js';
import type { TorrentRow } from './rows.js';
import { trLimitMode } from './transmission-seeding.js';

/**
 * The `torrent-get` fields of Transmission's RPC (rpc-spec, version 16 as in Transmission
 * 3.00) computed from shoal's view of a torrent. Fields shoal has no notion of are given the
 * value Transmission reports for "none" (0, false, empty), so tools that insist on a field
 * still work; unknown field names are left out, as Transmission does.
 */

/** What one torrent's fields are computed from; `detail` is fetched only when needed. */
export interface FieldSource {
  readonly rpcId: number;
  readonly summary: TorrentSummary;
  readonly row: TorrentRow;
  detail(): TorrentDetail | undefined;
  /** Seconds since the Unix epoch, now. */
  readonly now: number;
}

/** Transmission's torrent status numbers. */
export const TR_STATUS = {
  stopped: 0,
  checkWait: 1,
  check: 2,
  downloadWait: 3,
  download: 4,
  seedWait: 5,
  seed: 6,
} as const;

/** Transmission's status for a shoal state. */
export function trStatus(s: TorrentSummary): number {
  switch (s.state) {
    case 'checking':
      return TR_STATUS.check;
    case 'metadata':
    case 'downloading':
      return TR_STATUS.download;
    case 'seeding':
      return TR_STATUS.seed;
    default:
      return TR_STATUS.stopped;
  }
}

/** shoal priority (0..7) → Transmission's -1 low, 0 normal, 1 high. */
export function trPriority(p: number): number {
  return p >= 4 ? 1 : 0;
}

const seconds = (ms: number) => Math.floor(ms / 1000);

type Field = (src: FieldSource) => unknown;

const fileName = (d: TorrentDetail, path: string) =>
  d.files.length === 1 && path === d.name ? path : `${d.name}/${path}`;

/** Every field shoal answers, by Transmission's name. */
export const TORRENT_FIELDS: Readonly<Record<string, Field>> = {
  id: (s) => s.rpcId,
  hashString: (s) => s.summary.id,
  name: (s) => s.summary.name,
  status: (s) => trStatus(s.summary),
  error: (s) => (s.summary.error !== undefined ? 3 : 0),
  errorString: (s) => s.summary.error ?? '',
  percentDone: (s) => s.row.progress,
  metadataPercentComplete: (s) => (s.summary.state === 'metadata' ? 0 : 1),
  recheckProgress: (s) => (s.summary.state === 'checking' ? s.row.progress : 0),
  rateDownload: (s) => s.row.downloadRate,
  rateUpload: (s) => s.row.uploadRate,
  eta: (s) => s.row.eta ?? -1,
  etaIdle: () => -1,
  totalSize: (s) => s.summary.size,
  sizeWhenDone: (s) => s.summary.size,
  leftUntilDone: (s) => Math.max(0, s.summary.size - s.summary.have),
  haveValid: (s) => s.summary.have,
  haveUnchecked: () => 0,
  desiredAvailable: () => 0,
  corruptEver: () => 0,
  downloadedEver: (s) => s.summary.downloaded,
  uploadedEver: (s) => s.summary.uploaded,
  uploadRatio: (s) => s.row.ratio,
  peersConnected: (s) => s.summary.peers,
  peersSendingToUs: (s) => (s.row.downloadRate > 0 ? s.summary.peers : 0),
  peersGettingFromUs: (s) => (s.row.uploadRate > 0 ? s.summary.peers : 0),
  webseedsSendingToUs: () => 0,
  isFinished: (s) => s.summary.finished !== undefined,
  isStalled: (s) => s.summary.state === 'downloading' && s.row.downloadRate === 0,
  isPrivate: (s) => s.detail()?.private ?? false,
  downloadDir: (s) => s.summary.downloadDir,
  addedDate: (s) => seconds(s.summary.addedAt),
  startDate: (s) => seconds(s.summary.addedAt),
  activityDate: (s) =>
    s.row.downloadRate > 0 || s.row.uploadRate > 0 ? s.now : seconds(s.summary.addedAt),
  doneDate: () => 0,
  dateCreated: () => 0,
  secondsDownloading: () => 0,
  secondsSeeding: () => 0,
  queuePosition: (s) => s.rpcId - 1,
  bandwidthPriority: () => 0,
  honorsSessionLimits: () => true,
  downloadLimit: () => 0,
  downloadLimited: () => false,
  uploadLimit: () => 0,
  uploadLimited: () => false,
  'peer-limit': () => 100,
  maxConnectedPeers: () => 100,
  seedRatioMode: (s) => trLimitMode(s.detail()?.seedLimits.ratio),
  seedRatioLimit: (s) => s.detail()?.seedLimits.ratio ?? 0,
  seedIdleMode: (s) => trLimitMode(s.detail()?.seedLimits.idleMinutes),
  seedIdleLimit: (s) => s.detail()?.seedLimits.idleMinutes ?? 0,
  manualAnnounceTime: () => -1,
  comment: (s) => s.detail()?.comment ?? '',
  creator: () => '',
  magnetLink: (s) => s.detail()?.magnet ?? '',
  pieceCount: (s) => s.detail()?.pieceCount ?? 0,
  pieceSize: (s) => s.detail()?.pieceLength ?? 0,
  pieces: (s) => s.detail()?.pieces ?? '',
  labels: () => [],
  webseeds: () => [],
  'file-count': (s) => s.detail()?.files.length ?? 0,
  files: (s) => {
    const d = s.detail();
    return (d?.files ?? []).map((f) => ({
      name: fileName(d!, f.path),
      length: f.length,
      bytesCompleted: f.have,
    }));
  },
  fileStats: (s) =>
    (s.detail()?.files ?? []).map((f) => ({
      bytesCompleted: f.have,
      wanted: f.priority > 0,
      priority: trPriority(f.priority),
    })),
  priorities: (s) => (s.detail()?.files ?? []).map((f) => trPriority(f.priority)),
  wanted: (s) => (s.detail()?.files ?? []).map((f) => (f.priority > 0 ? 1 : 0)),
  peers: (s) =>
    (s.detail()?.peerList ?? []).map((p) => {
      const colon = p.address.lastIndexOf(':');
      return {
        address: p.address.slice(0, colon).replace(/^\[|\]$/g, ''),
        port: Number(p.address.slice(colon + 1)),
        clientName: '',
        flagStr: '',
        isEncrypted: false,
        isIncoming: false,
        isUTP: false,
        progress: 0,
        rateToClient: 0,
        rateToPeer: 0,
        isDownloadingFrom: false,
        isUploadingTo: false,
        clientIsChoked: true,
        clientIsInterested: false,
        peerIsChoked: true,
        peerIsInterested: false,
      };
    }),
  peersFrom: (s) => ({
    fromCache: 0,
    fromDht: 0,
    fromIncoming: 0,
    fromLpd: 0,
    fromLtep: 0,
    fromPex: 0,
    fromTracker: s.summary.peers,
  }),
  trackers: (s) =>
    (s.detail()?.trackers ?? []).map((t, i) => ({
      announce: t.url,
      id: i,
      scrape: '',
      tier: t.tier,
    })),
  trackerStats: (s) =>
    (s.detail()?.trackers ?? []).map((t, i) => ({
      announce: t.url,
      announceState: t.state === 'updating' ? 3 : t.state === 'idle' ? 0 : 1,
      downloadCount: -1,
      hasAnnounced: t.lastAnnounce !== undefined,
      hasScraped: false,
      host: hostOfUrl(t.url),
      id: i,
      isBackup: false,
      lastAnnouncePeerCount: t.peersReceived,
      lastAnnounceResult: t.error ?? t.warning ?? (t.lastAnnounce !== undefined ? 'Success' : ''),
      lastAnnounceStartTime: 0,
      lastAnnounceSucceeded: t.state === 'working',
      lastAnnounceTime: t.lastAnnounce !== undefined ? seconds(t.lastAnnounce) : 0,
      lastAnnounceTimedOut: false,
      lastScrapeResult: '',
      lastScrapeStartTime: 0,
      lastScrapeSucceeded: false,
      lastScrapeTime: 0,
      lastScrapeTimedOut: 0,
      leecherCount: t.leechers ?? -1,
      nextAnnounceTime: t.nextAnnounceInSeconds !== undefined ? s.now + t.nextAnnounceInSeconds : 0,
      nextScrapeTime: 0,
      scrape: '',
      scrapeState: 0,
      seederCount: t.seeders ?? -1,
      tier: t.tier,
    })),
};

function hostOfUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return url;
  }
}
