import { realFileIndices } from '../metainfo/file-selection.js';
import type { HttpServerRequest, HttpServerResponse } from '../runtime/http-server.js';
import type { Torrent } from '../swarm/torrent.js';
import { parseRange } from './http-range.js';
import { contentTypeOf } from './media-types.js';
import { WATCH_CSP, WATCH_SCRIPT, watchPage } from './watch-page.js';

/** What the stream server needs: the torrents it may serve, by info-hash (hex). */
export interface StreamServerDeps {
  readonly torrent: (infoHash: string) => Torrent | undefined;
}

/** Headers every answer of the stream server carries. */
const COMMON: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

/** One open stream, for status displays. */
export interface StreamStatus {
  readonly infoHash: string;
  /** Stream offset (in the torrent's byte stream) of the next byte to read. */
  readonly position: number;
  readonly bufferedAhead: number;
  readonly bytesPerSecond: number;
  readonly stalls: number;
}

/**
 * Serves torrents' files over HTTP while they download, for players and browsers:
 * `GET`/`HEAD /stream/<info-hash>/<file path or number>` with `Range` (206 and `Content-Range`,
 * 416 past the end, `Accept-Ranges: bytes`, `Content-Type` by extension), each request read by
 * its own piece reader, so several viewers and seeks run at once and a connection that closes
 * drops its urgency; `/watch/<info-hash>/<file>`, a page with an HTML5 player and an overlay;
 * `/watch-status/<info-hash>`, the overlay's JSON; `/watch.js`, its script. Used by the daemon's
 * API server (`shoal start`) and by `shoal stream` on a port of its own.
 */
export class StreamServer {
  /** Requests being streamed now, by the torrent they read. */
  private readonly open = new Map<Torrent, number>();

  constructor(private readonly deps: StreamServerDeps) {}

  /** True for the paths this server answers. */
  static serves(path: string): boolean {
    return (
      path.startsWith('/stream/') ||
      path.startsWith('/watch/') ||
      path.startsWith('/watch-status/') ||
      path === '/watch.js'
    );
  }

  /** The path of file `fileIndex` (a layout index) of `torrent` in stream and watch URLs. */
  static filePath(torrent: Torrent, fileIndex: number): string {
    const f = torrent.layout.files[fileIndex]!;
    const parts = torrent.meta.singleFile ? [torrent.meta.name] : f.path;
    return parts.map(encodeURIComponent).join('/');
  }

  /** Streams being served now. */
  streams(): StreamStatus[] {
    const out: StreamStatus[] = [];
    for (const torrent of this.open.keys())
      for (const r of torrent.readers())
        out.push({
          infoHash: torrent.infoHashHex,
          position: r.position,
          bufferedAhead: r.bufferedAhead(),
          bytesPerSecond: r.bytesPerSecond,
          stalls: r.stalls,
        });
    return out;
  }

  /** Answers one request (the caller checked {@link serves}, and credentials where needed). */
  async handle(req: HttpServerRequest, res: HttpServerResponse, path: string): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.send(405, { ...COMMON, allow: 'GET, HEAD', 'content-type': 'text/plain' }, 'GET or HEAD');
      return;
    }
    if (path === '/watch.js') {
      res.send(200, { ...COMMON, 'content-type': 'text/javascript; charset=utf-8' }, WATCH_SCRIPT);
      return;
    }
    const [, kind, hash = '', ...rest] = path.split('/');
    const torrent = this.deps.torrent(hash.toLowerCase());
    if (!torrent) {
      this.notFound(res, `no torrent ${hash}`);
      return;
    }
    if (kind === 'watch-status') {
      this.status(res, torrent);
      return;
    }
    let filePath: string;
    try {
      filePath = rest.map(decodeURIComponent).join('/');
    } catch {
      this.notFound(res, 'bad percent-encoding in the file path');
      return;
    }
    const index = this.findFile(torrent, filePath);
    if (index === undefined) {
      this.notFound(res, `the torrent has no file "${filePath}"`);
      return;
    }
    const name = StreamServer.filePath(torrent, index);
    if (kind === 'watch') {
      const html = watchPage(
        decodeURIComponent(name.split('/').pop()!),
        `/stream/${torrent.infoHashHex}/${name}`,
        `/watch-status/${torrent.infoHashHex}`,
      );
      res.send(
        200,
        {
          ...COMMON,
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': WATCH_CSP,
        },
        req.method === 'HEAD' ? '' : html,
      );
      return;
    }
    await this.stream(req, res, torrent, index, contentTypeOf(name));
  }

  private async stream(
    req: HttpServerRequest,
    res: HttpServerResponse,
    torrent: Torrent,
    index: number,
    contentType: string,
  ): Promise<void> {
    const size = torrent.layout.files[index]!.length;
    const range = parseRange(req.headers.range, size);
    const headers: Record<string, string> = {
      ...COMMON,
      'accept-ranges': 'bytes',
      'content-type': contentType,
    };
    if (range === 'unsatisfiable') {
      res.send(416, { ...headers, 'content-range': `bytes */${size}` }, '');
      return;
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    headers['content-length'] = String(Math.max(0, end - start + 1));
    if (range) headers['content-range'] = `bytes ${start}-${end}/${size}`;
    const status = range ? 206 : 200;
    if (req.method === 'HEAD' || size === 0) {
      res.stream(status, headers).end();
      return;
    }
    // Readers number files as users do (padding skipped); `index` is the layout's.
    const reader = torrent.createReader(realFileIndices(torrent.layout).indexOf(index), {
      start,
      end,
    });
    this.open.set(torrent, (this.open.get(torrent) ?? 0) + 1);
    const sink = res.stream(status, headers);
    let closed = false;
    let wake: (() => void) | undefined;
    sink.onClose(() => {
      closed = true;
      reader.close();
      wake?.();
    });
    try {
      while (!closed) {
        const chunk = await reader.read();
        if (!chunk) break;
        if (!sink.write(chunk) && !closed)
          await new Promise<void>((resolve) => {
            wake = resolve;
            sink.onDrain(resolve);
          });
      }
      if (!closed) sink.end();
    } catch {
      sink.destroy(); // the torrent stopped: the body cannot be finished
    } finally {
      reader.close();
      const n = (this.open.get(torrent) ?? 1) - 1;
      if (n > 0) this.open.set(torrent, n);
      else this.open.delete(torrent);
    }
  }

  /** The file a request path names: its path in the torrent, or its number. */
  private findFile(torrent: Torrent, path: string): number | undefined {
    try {
      return torrent.fileIndex(path);
    } catch {
      if (!/^\d{1,9}$/.test(path)) return undefined;
      try {
        return torrent.fileIndex(Number(path));
      } catch {
        return undefined;
      }
    }
  }

  private status(res: HttpServerResponse, torrent: Torrent): void {
    const s = torrent.stats();
    const body = {
      name: s.name,
      state: s.state,
      progress: s.progress,
      peers: s.peers,
      downloadRate: Math.round(s.downloadRate),
      uploadRate: Math.round(s.uploadRate),
      downloadedFromPeers: s.downloadedFromPeers,
      downloadedFromWebSeeds: s.downloadedFromWebSeeds,
      streams: torrent.readers().map((r) => ({
        position: r.position,
        bufferedAhead: r.bufferedAhead(),
        bytesPerSecond: r.bytesPerSecond,
        stalls: r.stalls,
      })),
    };
    res.send(200, { ...COMMON, 'content-type': 'application/json' }, JSON.stringify(body));
  }

  private notFound(res: HttpServerResponse, message: string): void {
    res.send(404, { ...COMMON, 'content-type': 'text/plain; charset=utf-8' }, `${message}\n`);
  }
}
