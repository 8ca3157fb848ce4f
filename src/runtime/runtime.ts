import type { ProcessLauncher } from './process.js';

/**
 * The one seam between shoal and the outside world (DESIGN.md §2–3). Only code under
 * `src/runtime/` touches timers, wall-clock time, the OS random source, sockets or the disk;
 * everything else receives a `Runtime`, so the same code runs on real sockets, in unit tests
 * with a manual clock, and in the simulator.
 */
export interface Runtime {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: RandomSource;
  readonly udp: UdpFactory;
  readonly tcp: TcpFactory;
  readonly fs: FileSystem;
  readonly http: HttpClient;
  readonly egress: EgressCheck;
  /** Starts other programs; absent where none may run (the simulator, most tests). */
  readonly processes?: ProcessLauncher;
}

/** A completed HTTP(S) request. */
export interface HttpResponse {
  readonly status: number;
  readonly body: Buffer;
  /**
   * The address the request left from, when known: a router's UPnP control point needs the
   * address it sees us at to name as the mapping's internal client.
   */
  readonly localAddress?: string;
}

/** What every HTTP request takes. */
export interface HttpRequestOptions {
  timeoutMs: number;
  maxBytes: number;
  headers?: Record<string, string>;
  /** Source address to send from (the node's listen address), if not "any". */
  localAddress?: string;
}

/**
 * HTTP(S) for tracker announces, web seeds and a router's UPnP control; the egress policy is
 * checked first.
 */
export interface HttpClient {
  /** Fetches `url`; fails on timeout or when the body exceeds `maxBytes`. */
  get(url: string, options: HttpRequestOptions): Promise<HttpResponse>;
  /** POSTs `body` to `url` (a UPnP SOAP call); fails like {@link get}. */
  post(url: string, body: Uint8Array, options: HttpRequestOptions): Promise<HttpResponse>;
}

/** Time as the runtime sees it. */
export interface Clock {
  /** Monotonic milliseconds, for measuring durations. */
  now(): number;
  /** Milliseconds since the Unix epoch, for timestamps that leave the process. */
  wallTime(): number;
}

/** An opaque handle for a scheduled callback. */
export interface TimerHandle {
  cancel(): void;
}

/** Scheduling of callbacks on the runtime's clock. */
export interface Timers {
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  setInterval(callback: () => void, periodMs: number): TimerHandle;
}

/** Randomness: the OS source in production, a seeded generator in tests and simulation. */
export interface RandomSource {
  /** `length` random bytes. */
  bytes(length: number): Buffer;
  /** A float in [0, 1). */
  float(): number;
  /** An integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
}

/** Decides whether a destination may be contacted (see {@link EgressPolicy}). */
export interface EgressCheck {
  /** Throws `EgressDeniedError` when `host` may not be contacted. */
  assertAllowed(host: string, port: number, what: string): void;
}

/** Where a datagram came from. */
export interface UdpRemote {
  readonly address: string;
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6';
}

/** A bound UDP socket. */
export interface UdpSocket {
  /** Sends a datagram; the egress policy is checked first. */
  send(data: Uint8Array, port: number, host: string): void;
  onMessage(handler: (data: Buffer, from: UdpRemote) => void): void;
  onError(handler: (error: Error) => void): void;
  address(): { address: string; port: number };
  /** Joins a multicast group (for local service discovery). */
  addMembership(group: string, interfaceAddress?: string): void;
  close(): Promise<void>;
}

/** Creates UDP sockets. */
export interface UdpFactory {
  bind(options: {
    port?: number;
    host?: string;
    family?: 'IPv4' | 'IPv6';
    /** Share the port with other sockets (multicast listeners). */
    reuseAddr?: boolean;
    /**
     * Kernel buffer sizes (SO_RCVBUF / SO_SNDBUF, capped by the OS): a transport over UDP
     * (uTP) needs room for a window of datagrams arriving between two reads.
     */
    recvBufferBytes?: number;
    sendBufferBytes?: number;
  }): Promise<UdpSocket>;
}

/** A connected, ordered byte stream (TCP or its simulated equivalent). */
export interface ByteStream {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Queues bytes; returns false when the caller should wait for `onDrain` before writing more. */
  write(data: Uint8Array): boolean;
  /**
   * Queues several chunks as one write (one system call where possible), without copying them.
   * `flushed` is called once the stream holds no reference to them any more, so their memory
   * may be reused; it may never be called (a stream that fails, or one that cannot tell).
   */
  writev(chunks: readonly Uint8Array[], flushed?: () => void): boolean;
  /**
   * Sets the handler for received bytes, replacing any earlier one (so owners can hand over).
   * The chunk is lent for the call only: the stream may read into the same memory next, so a
   * handler copies whatever it keeps.
   */
  onData(handler: (data: Buffer) => void): void;
  /** Sets the handler for "writable again", replacing any earlier one. */
  onDrain(handler: () => void): void;
  /** Sets the handler called once when the stream ends for any reason, replacing any earlier one. */
  onClose(handler: (error?: Error) => void): void;
  /** Stops reading from the peer (backpressure on our receive side). */
  pause(): void;
  resume(): void;
  /** Graceful close after queued data is written. */
  end(): void;
  /** Immediate close. */
  destroy(error?: Error): void;
}

/** A listening TCP server. */
export interface TcpServer {
  address(): { address: string; port: number };
  close(): Promise<void>;
}

/** Opens TCP connections and listeners. */
export interface TcpFactory {
  listen(
    options: { port?: number; host?: string },
    onConnection: (stream: ByteStream) => void,
  ): Promise<TcpServer>;
  /** Connects; the egress policy is checked first. */
  connect(
    host: string,
    port: number,
    options?: {
      timeoutMs?: number /** Source address to bind, if not any. */;
      localAddress?: string;
      /**
       * Source port to bind (a hole punch dials from a port its peer was told); any free port
       * when absent.
       */
      localPort?: number;
    },
  ): Promise<ByteStream>;
}

/** Metadata of a file system entry. */
export interface FileStat {
  readonly size: number;
  readonly mtimeMs: number;
  readonly isFile: boolean;
  readonly isDirectory: boolean;
  readonly isSymbolicLink: boolean;
  /** True when the owner may execute the file (the `x` attribute of BEP 47). */
  readonly isExecutable: boolean;
}

/** An open file for positional reads and writes. */
export interface FileHandle {
  /** Reads up to `length` bytes at `position` into `target[offset..]`; returns bytes read. */
  read(target: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** Writes all of `data` at `position`. */
  write(data: Uint8Array, position: number): Promise<void>;
  /**
   * True when a write of `length` bytes at `position` would go past the page cache (see
   * {@link OpenOptions.directWrites}): such writes need not wait for one another.
   */
  writesDirect?(length: number, position: number): boolean;
  truncate(length: number): Promise<void>;
  sync(): Promise<void>;
  /** Metadata of the open file itself (`fstat`: what was opened, whatever its path is now). */
  stat(): Promise<FileStat>;
  close(): Promise<void>;
}

/**
 * How {@link FileSystem.openBeneath} opens a file: `read` an existing file read-only, `write` an
 * existing file read-write, `create` read-write and created (with any missing folders) when
 * absent, never truncated.
 */
export type BeneathMode = 'read' | 'write' | 'create';

/** How {@link FileSystem.openBeneath} treats the file once open. */
export interface OpenOptions {
  /**
   * Write long block-aligned runs past the OS page cache (O_DIRECT) where the file system
   * allows it; everything else, and every read, goes through the cache as usual.
   */
  readonly directWrites?: boolean;
}

/** The file system operations shoal's engines need, and no more. */
export interface FileSystem {
  /** `lstat`: symbolic links are reported, not followed. */
  stat(path: string): Promise<FileStat>;
  /** Entry names in a directory (unsorted). */
  readdir(path: string): Promise<string[]>;
  readFile(path: string): Promise<Buffer>;
  /** Writes a whole file atomically: temp file, fsync, rename, fsync of the directory. */
  writeFileAtomic(path: string, data: Uint8Array): Promise<void>;
  open(path: string, mode: 'r' | 'r+' | 'w+'): Promise<FileHandle>;
  mkdir(path: string): Promise<void>;
  rm(path: string): Promise<void>;
  exists(path: string): Promise<boolean>;
  /**
   * Opens `root/path…` without following a symbolic link on any component below `root` and
   * only if it is a regular file, with no window between check and open (the real runtime
   * opens each folder relative to the one before). `root` is the user's choice and may itself
   * be a link. This is how every file of a torrent is opened, so no write ever leaves the
   * download folder. @throws {UnsafeFileError} naming the link or special file met
   */
  openBeneath(
    root: string,
    path: readonly string[],
    mode: BeneathMode,
    options?: OpenOptions,
  ): Promise<FileHandle>;
  /**
   * `lstat` of `root/path…` reached the same way as {@link openBeneath} (no link followed on
   * the way; a link at the end is reported, not followed). @throws {UnsafeFileError}
   */
  statBeneath(root: string, path: readonly string[]): Promise<FileStat>;
  /**
   * Writes a secret (a private key's seed) atomically, readable and writable by its owner only
   * (mode 0600 from the moment it exists).
   */
  writeSecretFile(path: string, data: Uint8Array): Promise<void>;
  /**
   * Reads a secret written by {@link writeSecretFile}; refuses a file that other users could
   * read or change, or that belongs to another user. @throws {SecretFileError}
   */
  readSecretFile(path: string): Promise<Buffer>;
  /**
   * Memory this file system writes from without a copy (page-aligned, for direct writes), lent
   * in slots; absent where any memory does as well (the simulator's).
   */
  readonly writeMemory?: WriteMemory;
}

/** Memory lent out in slots and handed back (see {@link FileSystem.writeMemory}). */
export interface WriteMemory {
  /** A slot of at least `bytes`, or undefined when there is none to lend. */
  take(bytes: number): Uint8Array | undefined;
  /** Takes back a slot from {@link take}; anything else is ignored. */
  give(slot: Uint8Array): void;
}
