import { parsePeer } from '../metainfo/magnet.js';
import type { HttpServerRequest, HttpServerResponse } from '../runtime/http-server.js';
import type { HttpClient } from '../runtime/runtime.js';
import type { AddOptions, NodeControl, TorrentDetail, TorrentSeedLimits } from './control.js';
import { ApiError, badRequest, notFound } from './errors.js';
import type { EventHub } from './events.js';
import { Fields, readJsonObject, sendJson } from './http.js';
import { Router } from './router.js';
import { listRows, parseListQuery, toRow } from './rows.js';
import { decodeBase64, MAX_TORRENT_BYTES, resolveSource } from './sources.js';

/** What a route handler gets. */
export interface RouteContext {
  readonly req: HttpServerRequest;
  readonly res: HttpServerResponse;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
}

/** A route handler: answers through `ctx.res`; a thrown `ApiError` becomes a JSON error. */
export type RouteHandler = (ctx: RouteContext) => Promise<void> | void;

/** What the REST routes need. */
export interface RouteDeps {
  readonly control: NodeControl;
  readonly events: EventHub;
  readonly http: HttpClient;
  readonly version: string;
}

/**
 * The REST API under `/api/` (documented in docs/API.md): torrents (list with paging and field
 * selection, add by magnet / URL / upload, detail, pause, resume, remove, files), settings,
 * library, session figures and the event stream.
 */
export function apiRoutes(deps: RouteDeps): Router<RouteHandler> {
  const { control } = deps;
  const router = new Router<RouteHandler>();
  const detailOf = (id: string): TorrentDetail => {
    const d = control.detail(resolveId(control, id));
    if (!d) throw notFound(`no torrent ${id}`, 'TORRENT_NOT_FOUND');
    return d;
  };
  router
    .add('GET', '/api', ({ res }) =>
      sendJson(res, 200, { name: 'shoal', version: deps.version, docs: 'docs/API.md' }),
    )
    .add('GET', '/api/session', ({ res }) => sendJson(res, 200, control.session()))
    .add('GET', '/api/torrents', ({ res, query }) =>
      sendJson(res, 200, listRows(control.summaries(), parseListQuery(query))),
    )
    .add('POST', '/api/torrents', async ({ req, res }) => {
      const summary = await addTorrent(deps, req);
      sendJson(res, summary.state === 'metadata' ? 202 : 201, toRow(summary));
    })
    .add('GET', '/api/torrents/:id', ({ res, params }) => sendJson(res, 200, detailOf(params.id!)))
    .add('GET', '/api/torrents/:id/files', ({ res, params }) =>
      sendJson(res, 200, { files: detailOf(params.id!).files }),
    )
    .add('GET', '/api/torrents/:id/peers', ({ res, params }) =>
      sendJson(res, 200, { peers: detailOf(params.id!).peerList }),
    )
    .add('GET', '/api/torrents/:id/trackers', ({ res, params }) =>
      sendJson(res, 200, { trackers: detailOf(params.id!).trackers }),
    )
    .add('GET', '/api/torrents/:id/pieces', ({ res, params }) => {
      const d = detailOf(params.id!);
      sendJson(res, 200, { pieceCount: d.pieceCount, piecesHave: d.piecesHave, pieces: d.pieces });
    })
    .add('POST', '/api/torrents/:id/pause', async ({ res, params }) => {
      const id = resolveId(control, params.id!);
      await control.pause(id);
      sendJson(res, 200, toRow(control.summary(id)!));
    })
    .add('POST', '/api/torrents/:id/resume', async ({ res, params }) => {
      const id = resolveId(control, params.id!);
      await control.resume(id);
      sendJson(res, 200, toRow(control.summary(id)!));
    })
    .add('DELETE', '/api/torrents/:id', async ({ res, params, query }) => {
      const id = resolveId(control, params.id!);
      const flag = query.get('deleteData') ?? 'false';
      if (flag !== 'true' && flag !== 'false')
        throw badRequest('"deleteData" is true or false', 'BAD_QUERY');
      await control.remove(id, flag === 'true');
      sendJson(res, 200, { removed: id, deletedData: flag === 'true' });
    })
    .add('PATCH', '/api/torrents/:id', async ({ req, res, params }) => {
      const id = resolveId(control, params.id!);
      const body = await readJsonObject(req);
      const allowed = Object.keys(SEED_LIMIT_FIELDS);
      for (const key of Object.keys(body))
        if (!allowed.includes(key))
          throw badRequest(
            `"${key}" cannot be set here; settable: ${allowed.join(', ')}`,
            'BAD_FIELD',
          );
      const f = new Fields(body);
      const limits: Record<keyof TorrentSeedLimits, number | null> = { ...detailOf(id).seedLimits };
      for (const [field, key] of Object.entries(SEED_LIMIT_FIELDS)) {
        const v = f.limit(field);
        if (v !== undefined) limits[key] = v;
      }
      await control.setSeedLimits(id, limits);
      const d = detailOf(id);
      sendJson(res, 200, { ...toRow(d), seedLimits: d.seedLimits });
    })
    .add('PUT', '/api/torrents/:id/files', async ({ req, res, params }) => {
      const id = resolveId(control, params.id!);
      const body = new Fields(await readJsonObject(req));
      const all = body.numbers('priorities');
      const some = body.numbers('files');
      const priority = body.count('priority');
      let priorities: number[];
      if (all !== undefined) {
        priorities = all;
      } else if (some !== undefined && priority !== undefined) {
        priorities = detailOf(id).files.map((f) => f.priority);
        for (const i of some) {
          if (!Number.isInteger(i) || i < 0 || i >= priorities.length)
            throw badRequest(`no file ${i} in this torrent`, 'BAD_FIELD');
          priorities[i] = priority;
        }
      } else {
        throw badRequest('give "priorities" (one per file) or "files" and "priority"', 'BAD_FIELD');
      }
      await control.setFilePriorities(id, priorities);
      sendJson(res, 200, { files: detailOf(id).files });
    })
    .add('GET', '/api/settings', ({ res }) => sendJson(res, 200, control.settings()))
    .add('PATCH', '/api/settings', async ({ req, res }) => {
      const body = await readJsonObject(req);
      const seedLimits = [
        'seedRatioLimit',
        'seedTimeLimitMinutes',
        'seedIdleLimitMinutes',
      ] as const;
      const allowed = ['uploadLimit', 'downloadLimit', 'downloadDir', ...seedLimits];
      for (const key of Object.keys(body)) {
        if (!allowed.includes(key))
          throw badRequest(
            `"${key}" cannot be changed while the node runs; settable: ${allowed.join(', ')}`,
            'BAD_FIELD',
          );
      }
      const f = new Fields(body);
      const uploadLimit = f.count('uploadLimit');
      const downloadLimit = f.count('downloadLimit');
      const downloadDir = f.string('downloadDir');
      if (downloadDir !== undefined && !downloadDir.startsWith('/'))
        throw badRequest('"downloadDir" must be an absolute path', 'BAD_FIELD');
      const seed: Partial<Record<(typeof seedLimits)[number], number>> = {};
      for (const key of seedLimits) {
        const v = f.limit(key);
        if (v === null)
          throw badRequest(`"${key}" must be a number ≥ 0 (0 = no limit)`, 'BAD_FIELD');
        if (v !== undefined) seed[key] = v;
      }
      const settings = await control.updateSettings({
        ...(uploadLimit !== undefined && { uploadLimit }),
        ...(downloadLimit !== undefined && { downloadLimit }),
        ...(downloadDir !== undefined && { downloadDir }),
        ...seed,
      });
      sendJson(res, 200, settings);
    })
    .add('GET', '/api/library', async ({ res }) =>
      sendJson(res, 200, { torrents: await control.library() }),
    )
    .add('GET', '/api/events', ({ res }) => {
      deps.events.connect(
        res.stream(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
          'x-accel-buffering': 'no',
        }),
      );
    });
  return router;
}

/** A torrent's seeding limits by their API field names (as in the node's settings). */
const SEED_LIMIT_FIELDS: Readonly<Record<string, keyof TorrentSeedLimits>> = {
  seedRatioLimit: 'ratio',
  seedTimeLimitMinutes: 'seedTimeMinutes',
  seedIdleLimitMinutes: 'idleMinutes',
};

/**
 * The full info-hash a client means: the hash itself, or a unique prefix of at least 4 hex
 * digits (as the remote CLI lets users type).
 * @throws {ApiError} 400 `BAD_ID`, 404 `TORRENT_NOT_FOUND`, 409 `AMBIGUOUS_ID`
 */
export function resolveId(control: NodeControl, text: string): string {
  const id = text.toLowerCase();
  if (!/^[0-9a-f]{4,64}$/.test(id))
    throw badRequest(`"${text.slice(0, 80)}" is not an info-hash (hex)`, 'BAD_ID');
  if (control.summary(id)) return id;
  const matches = control
    .summaries()
    .map((s) => s.id)
    .filter((h) => h.startsWith(id));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1)
    throw new ApiError(409, 'AMBIGUOUS_ID', `"${text}" matches ${matches.length} torrents`);
  throw notFound(`no torrent ${text}`, 'TORRENT_NOT_FOUND');
}

/** `POST /api/torrents`: a raw .torrent body, or JSON naming a magnet, URL or base64 file. */
async function addTorrent(deps: RouteDeps, req: HttpServerRequest) {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-bittorrent' || type === 'application/octet-stream') {
    const bytes = await req.body(MAX_TORRENT_BYTES);
    return deps.control.add({ kind: 'torrent', bytes }, {});
  }
  if (type !== 'application/json' && type !== '')
    throw new ApiError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      'send JSON, or the .torrent file as application/x-bittorrent',
    );
  const f = new Fields(await readJsonObject(req));
  const torrent = f.string('torrent');
  const magnet = f.string('magnet');
  const url = f.string('url');
  const source = await resolveSource(deps.http, {
    ...(magnet !== undefined && { magnet }),
    ...(url !== undefined && { url }),
    ...(torrent !== undefined && { torrent: decodeBase64(torrent, '"torrent"') }),
  });
  const downloadDir = f.string('downloadDir');
  if (downloadDir !== undefined && !downloadDir.startsWith('/'))
    throw badRequest('"downloadDir" must be an absolute path', 'BAD_FIELD');
  const peers = f.strings('peers')?.map((p) => {
    try {
      return parsePeer(p);
    } catch {
      throw badRequest(`peer "${p.slice(0, 80)}" is not HOST:PORT`, 'BAD_FIELD');
    }
  });
  const trackers = f.strings('trackers');
  for (const t of trackers ?? []) {
    if (!/^(https?|udp):\/\//i.test(t))
      throw badRequest(`tracker "${t.slice(0, 80)}" is not an http(s) or udp URL`, 'BAD_FIELD');
  }
  const paused = f.boolean('paused');
  const seedLimits: { -readonly [K in keyof TorrentSeedLimits]?: number } = {};
  for (const [field, key] of Object.entries(SEED_LIMIT_FIELDS)) {
    const v = f.limit(field);
    if (v !== undefined && v !== null) seedLimits[key] = v;
  }
  const options: AddOptions = {
    ...(downloadDir !== undefined && { downloadDir }),
    ...(paused !== undefined && { paused }),
    ...(peers !== undefined && { peers }),
    ...(trackers !== undefined && { trackers }),
    ...(Object.keys(seedLimits).length > 0 && { seedLimits }),
  };
  return deps.control.add(source, options);
}
