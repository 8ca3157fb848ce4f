/** The parts of `webtorrent` 1.x (no types of its own) the `stream` benchmark uses. */
declare module 'webtorrent' {
  import type { Readable } from 'node:stream';

  interface TorrentFile {
    readonly name: string;
    readonly length: number;
    createReadStream(range?: { start?: number; end?: number }): Readable;
  }
  interface Torrent {
    readonly files: readonly TorrentFile[];
    readonly progress: number;
    addPeer(peer: string): boolean;
    on(event: 'ready', listener: () => void): this;
  }
  class WebTorrent {
    constructor(options?: Record<string, unknown>);
    add(torrent: Buffer, options: { path: string }, onTorrent?: (t: Torrent) => void): Torrent;
    on(event: 'error', listener: (error: Error) => void): this;
    destroy(callback?: () => void): void;
  }
  export default WebTorrent;
}
