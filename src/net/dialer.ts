import { hasCode } from '../errors.js';
import { logger } from '../metrics/log.js';
import type { RandomSource, Timers } from '../runtime/runtime.js';
import { MseHandshakeError } from '../transport/mse/errors.js';
import { mseConnect } from '../transport/mse/handshake.js';
import type { PeerConnection, TransportKind } from './connection.js';
import type { ConnectionManager, DialPermit } from './connection-manager.js';
import type { Transport } from './transport.js';

const log = logger('net:dialer');

/** What an engine says when it asks for a connection. */
export interface DialRequest {
  readonly host: string;
  readonly port: number;
  /** Deadline for the connection to open. */
  readonly timeoutMs: number;
  /**
   * The torrent the connection is for (BitTorrent peers): protocol encryption (MSE/PE) keys
   * its handshake on it. Without it the connection is never encrypted by the dialer.
   */
  readonly infoHash?: Buffer;
}

/**
 * BitTorrent protocol encryption (MSE/PE) for outgoing connections. `prefer` starts every
 * BitTorrent connection with the MSE key exchange (so the handshake is hidden), offers RC4 and
 * plaintext for the payload and lets the peer choose (as libtorrent does by default), and dials
 * again in plaintext when the peer refuses MSE; `require` offers only RC4 and never falls back;
 * `disable` never encrypts.
 */
export type EncryptionPolicy = 'prefer' | 'require' | 'disable';

/** What the dialer needs. */
export interface DialerDeps {
  readonly connections: ConnectionManager;
  /** Transports in order of preference. */
  readonly transports: readonly Transport[];
  /** The node's listen address when it is not "any": outgoing connections leave from it. */
  readonly localAddress?: string;
  readonly encryption: EncryptionPolicy;
  readonly random: RandomSource;
  readonly timers: Timers;
}

/** Peers remembered as refusing encryption, or a transport (bounded, oldest forgotten). */
const MAX_REMEMBERED_PEERS = 4096;

/**
 * Opens connections for engines. It asks the connection manager for a permit (bans, limits,
 * back-off), picks a transport, and, for BitTorrent peers, negotiates protocol encryption, so
 * engines never choose sockets and new transports, encryption or hole punching change nothing
 * above this line.
 */
export class Dialer {
  /**
   * Under `prefer`, addresses that refused MSE: `plaintext` ones are dialled in the clear
   * directly; `encrypt-again` ones closed a plaintext connection before its handshake
   * ({@link closedEarly}) and are offered encryption once more, without the immediate
   * plaintext retry of a first refusal: one connection per attempt, the two ways by turns.
   */
  private readonly refusedMse = new Map<string, 'plaintext' | 'encrypt-again'>();
  /** Addresses whose last connection over a transport closed before its handshake. */
  private readonly avoid = new Map<string, TransportKind>();
  /** Outgoing connections by whether they ended up encrypted. */
  readonly counts = { encrypted: 0, plaintext: 0, encryptionRefused: 0, newKeyRedials: 0 };

  constructor(private readonly deps: DialerDeps) {}

  /**
   * Dials `request.host:port`. Throws `ConnectionRefusedError` when the manager refuses,
   * `MseHandshakeError` when encryption is required and fails, or the transport's error when
   * no transport could connect.
   */
  async dial(request: DialRequest): Promise<PeerConnection> {
    const key = `${request.host}:${request.port}`;
    const encrypt =
      request.infoHash !== undefined &&
      this.deps.encryption !== 'disable' &&
      !(this.deps.encryption === 'prefer' && this.refusedMse.get(key) === 'plaintext');
    // A torrent's dials back off apart from other torrents' dials of the same peer.
    const scope = request.infoHash?.toString('hex');
    const permit = this.deps.connections.beginDial(request.host, request.port, {
      ...(scope !== undefined && { scope }),
    });
    if (!encrypt) return this.plain(await this.open(permit, request));
    const conn = await this.open(permit, request);
    try {
      return await this.encrypted(conn, request);
    } catch (error) {
      if (error instanceof MseHandshakeError && error.reason === 'legacy-secret') {
        // libtorrent 1.1–2.0 fail 1 key exchange in 256 (see trippedByUnpaddedSecret): a new
        // connection brings a new key.
        log.debug('key exchange tripped an old libtorrent; dialling again', { peer: key });
        this.counts.newKeyRedials++;
        const retry = this.deps.connections.beginDial(request.host, request.port, {
          retry: true,
          ...(scope !== undefined && { scope }),
        });
        return this.encrypted(await this.open(retry, request), request);
      }
      const refused =
        error instanceof MseHandshakeError &&
        (error.reason === 'closed' ||
          error.reason === 'timeout' ||
          error.reason === 'no-common-crypto');
      if (!refused || this.deps.encryption === 'require') throw error;
      // A peer that speaks only plaintext closes on our key exchange: dial it again in the clear.
      this.counts.encryptionRefused++;
      log.debug('encryption refused; dialling in plaintext', { peer: key, reason: error.reason });
      const again = this.refusedMse.get(key) === 'encrypt-again';
      this.refusedMse.delete(key);
      this.refusedMse.set(key, 'plaintext');
      if (this.refusedMse.size > MAX_REMEMBERED_PEERS)
        this.refusedMse.delete(this.refusedMse.keys().next().value!);
      // Its turn for plaintext is the next attempt, after a back-off that doubles as for any
      // peer closing before its handshake.
      if (again) {
        this.deps.connections.dialFailed(request.host, request.port, scope);
        throw error;
      }
      const retry = this.deps.connections.beginDial(request.host, request.port, {
        retry: true,
        ...(scope !== undefined && { scope }),
      });
      return this.plain(await this.open(retry, request));
    }
  }

  /**
   * A connection we dialled over `transport` closed before its protocol handshake (a client
   * that listens for TCP but takes only uTP does that): the next dial tries the other
   * transport first. True when that is a change worth trying at once.
   *
   * A peer remembered as refusing encryption gets another offer of it: it may have closed our
   * key exchange only because it was full, and a peer that requires encryption closes a
   * plaintext handshake just like this. Like libtorrent, a peer that keeps failing is tried
   * encrypted and plaintext by turns, one connection per attempt, never given up on.
   */
  closedEarly(host: string, port: number, transport: TransportKind): boolean {
    const key = `${host}:${port}`;
    if (this.refusedMse.get(key) === 'plaintext') this.refusedMse.set(key, 'encrypt-again');
    const switched =
      this.avoid.get(key) !== transport && this.deps.transports.some((t) => t.kind !== transport);
    this.avoid.delete(key);
    this.avoid.set(key, transport);
    if (this.avoid.size > MAX_REMEMBERED_PEERS) this.avoid.delete(this.avoid.keys().next().value!);
    return switched;
  }

  /** Runs the MSE key exchange on a fresh connection: the payload stream, maybe RC4. */
  private async encrypted(conn: PeerConnection, request: DialRequest): Promise<PeerConnection> {
    const mse = await mseConnect(conn.stream, {
      infoHash: request.infoHash!,
      allow: this.deps.encryption === 'require' ? 'rc4' : 'both',
      random: this.deps.random,
      timers: this.deps.timers,
      timeoutMs: request.timeoutMs,
    });
    conn.info.encrypted = mse.encrypted;
    this.counts.encrypted++;
    return { stream: mse.stream, info: conn.info };
  }

  private plain(conn: PeerConnection): PeerConnection {
    this.counts.plaintext++;
    return conn;
  }

  private async open(permit: DialPermit, request: DialRequest): Promise<PeerConnection> {
    let lastError: unknown;
    const avoid = this.avoid.get(`${request.host}:${request.port}`);
    const transports = avoid
      ? [
          ...this.deps.transports.filter((t) => t.kind !== avoid),
          ...this.deps.transports.filter((t) => t.kind === avoid),
        ]
      : this.deps.transports;
    for (const transport of transports) {
      try {
        const stream = await transport.dial(request.host, request.port, {
          timeoutMs: request.timeoutMs,
          ...(this.deps.localAddress !== undefined && { localAddress: this.deps.localAddress }),
        });
        const managed = permit.connected(stream, transport.kind);
        return { stream: managed, info: managed.info };
      } catch (error) {
        log.debug('transport failed', {
          peer: `${request.host}:${request.port}`,
          transport: transport.kind,
          error: (error as Error).message,
        });
        lastError = error;
        // The egress policy refuses the address on every transport: say so at once.
        if (hasCode(error, 'EGRESS_DENIED')) break;
      }
    }
    permit.failed();
    throw lastError;
  }
}
