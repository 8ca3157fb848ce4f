/**
 * The parts of the npm `bittorrent-dht` package (v11, no types of its own) that the interop
 * tests and the `dht` benchmark use.
 */
declare module 'bittorrent-dht' {
  import type { Socket } from 'node:dgram';
  import type { EventEmitter } from 'node:events';

  /** A contact: `{ host, port }`, with `id` once known. */
  interface BittorrentDhtNode {
    host: string;
    port: number;
    id?: Buffer;
  }

  /** A BEP 44 item as `get` returns it. */
  interface BittorrentDhtItem {
    v: Buffer | Record<string, unknown>;
    k?: Buffer;
    sig?: Buffer;
    seq?: number;
    salt?: Buffer;
    id?: Buffer;
    token?: Buffer;
  }

  interface BittorrentDhtOptions {
    /** `'host:port'` strings or contacts; its default is the public routers. */
    bootstrap?: (string | { host: string; port: number })[] | false;
    /** Our own address, added as a peer when we announce. */
    host?: string;
    nodeId?: Buffer;
    /** A UDP socket to use (k-rpc-socket's `socket` option); may be bound already. */
    socket?: Socket;
    /** Query timeout in ms (k-rpc-socket; checked in quarters of it). */
    timeout?: number;
    /** Queries in flight at once (k-rpc; default 16). */
    concurrency?: number;
    k?: number;
    maxValues?: number;
    maxPeers?: number;
    verify?: (sig: Buffer, message: Buffer, publicKey: Buffer) => boolean;
  }

  interface BittorrentDhtPut {
    v: Buffer | string | Record<string, unknown>;
    k?: Buffer;
    seq?: number;
    salt?: Buffer;
    cas?: number;
    sign?: (message: Buffer) => Buffer;
    sig?: Buffer;
  }

  class DHT extends EventEmitter {
    constructor(options?: BittorrentDhtOptions);
    readonly nodeId: Buffer;
    readonly listening: boolean;
    readonly ready: boolean;
    readonly nodes: { count(): number; toArray(): BittorrentDhtNode[] };
    listen(port?: number, address?: string, onListening?: () => void): void;
    address(): { address: string; family: string; port: number };
    addNode(node: BittorrentDhtNode): void;
    announce(infoHash: Buffer | string, port: number, cb?: (err: Error | null) => void): void;
    lookup(
      infoHash: Buffer | string,
      cb?: (err: Error | null, visited: number) => void,
    ): () => void;
    put(
      item: BittorrentDhtPut,
      cb?: (err: Error | null, target: Buffer, stored: number) => void,
    ): Buffer;
    get(
      target: Buffer | string,
      options: { salt?: Buffer; cache?: boolean; verify?: BittorrentDhtOptions['verify'] },
      cb: (err: Error | null, item: BittorrentDhtItem | null) => void,
    ): void;
    toJSON(): { nodes: { host: string; port: number }[]; values: Record<string, unknown> };
    destroy(cb?: () => void): void;
    on(event: 'peer', fn: (peer: { host: string; port: number }, infoHash: Buffer) => void): this;
    on(event: 'ready' | 'listening' | 'close', fn: () => void): this;
    on(event: 'error' | 'warning', fn: (err: Error) => void): this;
    on(
      event: 'announce',
      fn: (peer: { host: string; port: number }, infoHash: Buffer) => void,
    ): this;
    on(event: string, fn: (...args: unknown[]) => void): this;
  }
  export default DHT;
  export type { BittorrentDhtItem, BittorrentDhtNode, BittorrentDhtOptions, BittorrentDhtPut };
}
