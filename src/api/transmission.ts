import type { HttpServerRequest, HttpServerResponse } from '../runtime/http-server.js';
import type { Clock, HttpClient, RandomSource } from '../runtime/runtime.js';
import type { NodeControl, TorrentSummary } from './control.js';
import { ApiError } from './errors.js';
import { COMMON_HEADERS, MAX_JSON_BODY, sendJson } from './http.js';
import { toRow } from './rows.js';
import { decodeBase64, resolveSource } from './sources.js';
import { TORRENT_FIELDS } from './transmission-fields.js';
import {
  type RememberedSeedLimits,
  sessionSeedChanges,
  sessionSeedFields,
  torrentSetSeedLimits,
  touchesSeedLimits,
} from './transmission-seeding.js';

/** The RPC version of Transmission 3.00, which `transmission-remote` 3.00 and most tools speak. */
const RPC_VERSION = 16;
const SESSION_HEADER = 'x-transmission-session-id';

/** What the RPC needs besides the node. */
export interface TransmissionDeps {
  readonly control: NodeControl;
  readonly http: HttpClient;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly version: string;
}

type Args = Record<string, unknown>;

/** A method failed: Transmission reports it in `result`, with HTTP 200. */
class RpcFailure extends Error {}

/**
 * Transmission's RPC at `/transmission/rpc`, so `transmission-remote` and the tools that speak it
 * (Sonarr and friends) drive shoal unchanged. Implements the session-id handshake (a request
 * without the current `X-Transmission-Session-Id` gets 409 and the id, which also stops
 * cross-site form posts) and the methods those tools use: `torrent-get/add/remove/start/stop/
 * set`, `session-get/set/stats`. Transmission's integer ids are given out here, in the order
 * torrents are first seen.
 */
export class TransmissionRpc {
  readonly sessionId: string;
  private readonly idsByHash = new Map<string, number>();
  private readonly hashesById = new Map<number, string>();
  private nextId = 1;
  /** Remembered so a disabled limit keeps its value, as in Transmission. */
  private limits = { downKb: 100, upKb: 100 };
  /** The same for seeding limits: the session's, and each torrent's own. */
  private readonly sessionSeed: RememberedSeedLimits = { ratio: 2, idleMinutes: 30 };
  private readonly torrentSeed = new Map<string, RememberedSeedLimits>();

  constructor(private readonly deps: TransmissionDeps) {
    this.sessionId = deps.random.bytes(24).toString('hex');
  }

  /** Answers one HTTP request to the RPC endpoint (already authenticated). */
  async handle(req: HttpServerRequest, res: HttpServerResponse): Promise<void> {
    const sessionHeader = { 'x-transmission-session-id': this.sessionId };
    if (req.headers[SESSION_HEADER] !== this.sessionId) {
      res.send(
        409,
        { ...COMMON_HEADERS, ...sessionHeader, 'content-type': 'text/html; charset=utf-8' },
        `<h1>409: Conflict</h1><p>Your request had an invalid session-id header.</p><p><code>X-Transmission-Session-Id: ${this.sessionId}</code></p>`,
      );
      return;
    }
    if (req.method !== 'POST') {
      sendJson(res, 405, { result: 'the RPC takes POST requests' }, sessionHeader);
      return;
    }
    let request: Args;
    try {
      const parsed: unknown = JSON.parse((await req.body(MAX_JSON_BODY)).toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      request = parsed as Args;
    } catch (error) {
      const status = error instanceof ApiError ? error.status : 400;
      sendJson(
        res,
        status,
        { result: `invalid request: ${(error as Error).message}` },
        sessionHeader,
      );
      return;
    }
    const tag = typeof request.tag === 'number' ? { tag: request.tag } : {};
    const args = request.arguments;
    if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) {
      sendJson(res, 200, { result: '"arguments" must be an object', ...tag }, sessionHeader);
      return;
    }
    try {
      const result = await this.call(String(request.method), (args as Args | undefined) ?? {});
      sendJson(res, 200, { arguments: result, result: 'success', ...tag }, sessionHeader);
    } catch (error) {
      const result = error instanceof Error ? error.message : String(error);
      sendJson(res, 200, { arguments: {}, result, ...tag }, sessionHeader);
    }
  }

  /** Runs one method; a thrown error's message becomes `result`. */
  async call(method: string, args: Args): Promise<Args> {
    switch (method) {
      case 'torrent-get':
        return this.torrentGet(args);
      case 'torrent-add':
        return this.torrentAdd(args);
      case 'torrent-remove':
        for (const id of this.resolveIds(args.ids))
          await this.deps.control.remove(id, args['delete-local-data'] === true);
        return {};
      case 'torrent-start':
      case 'torrent-start-now':
        for (const id of this.resolveIds(args.ids)) await this.deps.control.resume(id);
        return {};
      case 'torrent-stop':
        for (const id of this.resolveIds(args.ids)) await this.deps.control.pause(id);
        return {};
      case 'torrent-set':
        return this.torrentSet(args);
      case 'session-get':
        return this.sessionGet(args);
      case 'session-set':
        return this.sessionSet(args);
      case 'session-stats':
        return this.sessionStats();
      case 'torrent-verify':
      case 'torrent-reannounce':
      case 'torrent-set-location':
      case 'torrent-rename-path':
      case 'blocklist-update':
      case 'port-test':
      case 'session-close':
      case 'queue-move-top':
      case 'queue-move-up':
      case 'queue-move-down':
      case 'queue-move-bottom':
      case 'free-space':
        throw new RpcFailure(`${method} is not supported by shoal`);
      default:
        throw new RpcFailure('method name not recognized');
    }
  }

  private rpcId(hash: string): number {
    let id = this.idsByHash.get(hash);
    if (id === undefined) {
      id = this.nextId++;
      this.idsByHash.set(hash, id);
      this.hashesById.set(id, hash);
    }
    return id;
  }

  /** The info-hashes `ids` names: absent = all; a number, a hash, or a list of them. */
  private resolveIds(ids: unknown): string[] {
    const all = this.deps.control.summaries();
    for (const s of all) this.rpcId(s.id);
    if (ids === undefined || ids === 'recently-active') return all.map((s) => s.id);
    const list = Array.isArray(ids) ? ids : [ids];
    if (list.length > 100_000) throw new RpcFailure('too many ids');
    const known = new Set(all.map((s) => s.id));
    const out: string[] = [];
    for (const x of list) {
      const hash =
        typeof x === 'number'
          ? this.hashesById.get(x)
          : typeof x === 'string'
            ? x.toLowerCase()
            : undefined;
      if (hash !== undefined && known.has(hash)) out.push(hash);
    }
    return out;
  }

  private torrentGet(args: Args): Args {
    const fields = args.fields;
    if (!Array.isArray(fields) || !fields.every((f) => typeof f === 'string'))
      throw new RpcFailure('"fields" must be a list of field names');
    const wanted = [...new Set(fields as string[])].filter((f) => TORRENT_FIELDS[f] !== undefined);
    const ids = new Set(this.resolveIds(args.ids));
    const now = Math.floor(this.deps.clock.wallTime() / 1000);
    const rows = this.deps.control
      .summaries()
      .filter((s) => ids.has(s.id))
      .sort((a, b) => this.rpcId(a.id) - this.rpcId(b.id))
      .map((summary) => this.fieldsOf(summary, wanted, now));
    if (args.format === 'table') {
      return { torrents: [wanted, ...rows.map((r) => wanted.map((f) => r[f]))] };
    }
    return { torrents: rows, ...(args.ids === 'recently-active' && { removed: [] }) };
  }

  private fieldsOf(summary: TorrentSummary, fields: readonly string[], now: number): Args {
    let detail: ReturnType<NodeControl['detail']> | null = null;
    const source = {
      rpcId: this.rpcId(summary.id),
      summary,
      row: toRow(summary),
      now,
      detail: () => {
        if (detail === null) detail = this.deps.control.detail(summary.id);
        return detail;
      },
    };
    const out: Args = {};
    for (const f of fields) out[f] = TORRENT_FIELDS[f]!(source);
    return out;
  }

  private async torrentAdd(args: Args): Promise<Args> {
    const filename = args.filename;
    const metainfo = args.metainfo;
    if (filename !== undefined && typeof filename !== 'string')
      throw new RpcFailure('"filename" must be a string');
    if (metainfo !== undefined && typeof metainfo !== 'string')
      throw new RpcFailure('"metainfo" must be base64 text');
    const downloadDir = args['download-dir'];
    if (
      downloadDir !== undefined &&
      (typeof downloadDir !== 'string' || !downloadDir.startsWith('/'))
    )
      throw new RpcFailure('"download-dir" must be an absolute path');
    const source = await resolveSource(this.deps.http, {
      ...(filename !== undefined && { url: filename }),
      ...(metainfo !== undefined && { torrent: decodeBase64(metainfo, '"metainfo"') }),
    }).catch((error: Error) => {
      throw new RpcFailure(error.message);
    });
    try {
      const s = await this.deps.control.add(source, {
        ...(typeof downloadDir === 'string' && { downloadDir }),
        ...(args.paused === true && { paused: true }),
      });
      return { 'torrent-added': { id: this.rpcId(s.id), name: s.name, hashString: s.id } };
    } catch (error) {
      if (error instanceof ApiError && error.code === 'TORRENT_EXISTS') {
        const existing = this.deps.control.summaries().find((s) => error.message.includes(s.id));
        if (existing) {
          return {
            'torrent-duplicate': {
              id: this.rpcId(existing.id),
              name: existing.name,
              hashString: existing.id,
            },
          };
        }
      }
      throw new RpcFailure((error as Error).message);
    }
  }

  private async torrentSet(args: Args): Promise<Args> {
    const lists = [
      'files-wanted',
      'files-unwanted',
      'priority-high',
      'priority-normal',
      'priority-low',
    ];
    const changes = lists.filter((k) => args[k] !== undefined);
    if (touchesSeedLimits(args)) {
      for (const id of this.resolveIds(args.ids)) {
        const d = this.deps.control.detail(id);
        if (!d || d.state === 'metadata') continue;
        const remembered = this.torrentSeed.get(id) ?? { ...this.sessionSeed };
        this.torrentSeed.set(id, remembered);
        await this.deps.control.setSeedLimits(
          id,
          torrentSetSeedLimits(args, d.seedLimits, remembered),
        );
      }
    }
    if (changes.length === 0) return {};
    for (const k of changes) {
      const v = args[k];
      if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && x >= 0))
        throw new RpcFailure(`"${k}" must be a list of file indices`);
    }
    for (const id of this.resolveIds(args.ids)) {
      const d = this.deps.control.detail(id);
      if (!d || d.files.length === 0) continue;
      const p = d.files.map((f) => f.priority);
      const apply = (key: string, f: (old: number) => number) => {
        for (const i of (args[key] as number[] | undefined) ?? [])
          if (i < p.length) p[i] = f(p[i]!);
      };
      apply('files-unwanted', () => 0);
      apply('files-wanted', (old) => (old === 0 ? 1 : old));
      apply('priority-high', (old) => (old === 0 ? 0 : 4));
      apply('priority-normal', (old) => (old === 0 ? 0 : 1));
      apply('priority-low', (old) => (old === 0 ? 0 : 1));
      await this.deps.control.setFilePriorities(id, p);
    }
    return {};
  }

  private sessionGet(args: Args): Args {
    const s = this.deps.control.settings();
    const kb = (bytes: number, remembered: number) =>
      bytes > 0 ? Math.round(bytes / 1000) : remembered;
    const all: Args = {
      'rpc-version': RPC_VERSION,
      'rpc-version-minimum': 1,
      version: `3.00 (shoal ${this.deps.version})`,
      'session-id': this.sessionId,
      'download-dir': s.downloadDir,
      'config-dir': s.dataDir,
      'peer-port': s.port,
      'peer-port-random-on-start': false,
      'port-forwarding-enabled': false,
      'dht-enabled': s.dht,
      'pex-enabled': s.pex,
      'lpd-enabled': s.lsd,
      'utp-enabled': false,
      encryption: 'tolerated',
      'speed-limit-down': kb(s.downloadLimit, this.limits.downKb),
      'speed-limit-down-enabled': s.downloadLimit > 0,
      'speed-limit-up': kb(s.uploadLimit, this.limits.upKb),
      'speed-limit-up-enabled': s.uploadLimit > 0,
      'alt-speed-enabled': false,
      'alt-speed-down': 50,
      'alt-speed-up': 50,
      'alt-speed-time-enabled': false,
      'alt-speed-time-begin': 540,
      'alt-speed-time-end': 1020,
      'alt-speed-time-day': 127,
      ...sessionSeedFields(s, this.sessionSeed),
      'download-queue-enabled': false,
      'download-queue-size': 5,
      'seed-queue-enabled': false,
      'seed-queue-size': 10,
      'queue-stalled-enabled': false,
      'queue-stalled-minutes': 30,
      'peer-limit-global': 200,
      'peer-limit-per-torrent': 100,
      'blocklist-enabled': s.blocklistRanges > 0,
      'blocklist-size': s.blocklistRanges,
      'blocklist-url': /^https?:\/\//i.test(s.blocklist) ? s.blocklist : '',
      'cache-size-mb': 8,
      'incomplete-dir': s.downloadDir,
      'incomplete-dir-enabled': false,
      'rename-partial-files': false,
      'start-added-torrents': true,
      'trash-original-torrent-files': false,
      'script-torrent-done-enabled': false,
      'script-torrent-done-filename': '',
      'download-dir-free-space': -1,
      units: {
        'speed-units': ['kB/s', 'MB/s', 'GB/s', 'TB/s'],
        'speed-bytes': 1000,
        'size-units': ['kB', 'MB', 'GB', 'TB'],
        'size-bytes': 1000,
        'memory-units': ['KiB', 'MiB', 'GiB', 'TiB'],
        'memory-bytes': 1024,
      },
    };
    const fields = args.fields;
    if (Array.isArray(fields)) {
      return Object.fromEntries(
        Object.entries(all).filter(([k]) => (fields as unknown[]).includes(k)),
      );
    }
    return all;
  }

  private async sessionSet(args: Args): Promise<Args> {
    const num = (k: string) => {
      const v = args[k];
      if (v === undefined) return undefined;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
        throw new RpcFailure(`"${k}" must be a non-negative number`);
      return v;
    };
    const flag = (k: string) => {
      const v = args[k];
      if (v === undefined) return undefined;
      if (typeof v !== 'boolean') throw new RpcFailure(`"${k}" must be true or false`);
      return v;
    };
    const current = this.deps.control.settings();
    const down = num('speed-limit-down');
    const up = num('speed-limit-up');
    if (down !== undefined) this.limits.downKb = down;
    if (up !== undefined) this.limits.upKb = up;
    const downOn = flag('speed-limit-down-enabled') ?? current.downloadLimit > 0;
    const upOn = flag('speed-limit-up-enabled') ?? current.uploadLimit > 0;
    const dir = args['download-dir'];
    if (dir !== undefined && (typeof dir !== 'string' || !dir.startsWith('/')))
      throw new RpcFailure('"download-dir" must be an absolute path');
    await this.deps.control.updateSettings({
      downloadLimit: downOn ? Math.round(this.limits.downKb * 1000) : 0,
      uploadLimit: upOn ? Math.round(this.limits.upKb * 1000) : 0,
      ...(typeof dir === 'string' && { downloadDir: dir }),
      ...sessionSeedChanges(args, current, this.sessionSeed),
    });
    return {};
  }

  private sessionStats(): Args {
    const s = this.deps.control.session();
    const stats = {
      uploadedBytes: s.uploaded,
      downloadedBytes: s.downloaded,
      filesAdded: s.torrents,
      sessionCount: 1,
      secondsActive: s.uptime,
    };
    return {
      activeTorrentCount: s.active,
      pausedTorrentCount: s.paused,
      torrentCount: s.torrents,
      downloadSpeed: Math.round(s.downloadRate),
      uploadSpeed: Math.round(s.uploadRate),
      'cumulative-stats': stats,
      'current-stats': stats,
    };
  }
}
