import type { TorrentState, TorrentSummary } from './control.js';
import { badRequest } from './errors.js';

/**
 * A torrent as the list and the event stream show it: the summary plus what is derived from it
 * (ETA, ratio), with rates rounded to whole bytes and progress to 1/10,000 so that an idle
 * torrent's row does not change, and the event stream sends nothing for it.
 */
export interface TorrentRow {
  readonly id: string;
  readonly name: string;
  readonly state: TorrentState;
  readonly size: number;
  readonly have: number;
  readonly progress: number;
  readonly downloadRate: number;
  readonly uploadRate: number;
  readonly downloaded: number;
  readonly uploaded: number;
  readonly peers: number;
  /** Seconds until done at the current rate; null when unknown (no data flowing). */
  readonly eta: number | null;
  /** Uploaded over downloaded (over the size while nothing was downloaded), 3 decimals. */
  readonly ratio: number;
  readonly addedAt: number;
  readonly downloadDir: string;
  readonly error: string | null;
  /** Why seeding stopped on its own (a seeding limit), or null. */
  readonly finished: string | null;
}

/** Every field a row has, in display order. */
export const ROW_FIELDS: readonly (keyof TorrentRow)[] = [
  'id',
  'name',
  'state',
  'size',
  'have',
  'progress',
  'downloadRate',
  'uploadRate',
  'downloaded',
  'uploaded',
  'peers',
  'eta',
  'ratio',
  'addedAt',
  'downloadDir',
  'error',
  'finished',
];

/** The row of a summary. */
export function toRow(s: TorrentSummary): TorrentRow {
  const left = Math.max(0, s.size - s.have);
  const rate = Math.round(s.downloadRate);
  const base = s.downloaded > 0 ? s.downloaded : s.size;
  return {
    id: s.id,
    name: s.name,
    state: s.state,
    size: s.size,
    have: s.have,
    progress: Math.floor(s.progress * 10_000) / 10_000,
    downloadRate: rate,
    uploadRate: Math.round(s.uploadRate),
    downloaded: s.downloaded,
    uploaded: s.uploaded,
    peers: s.peers,
    eta: s.progress >= 1 && s.size > 0 ? 0 : rate > 0 ? Math.ceil(left / rate) : null,
    ratio: base > 0 ? Math.round((s.uploaded / base) * 1000) / 1000 : 0,
    addedAt: s.addedAt,
    downloadDir: s.downloadDir,
    error: s.error ?? null,
    finished: s.finished ?? null,
  };
}

/** What `GET /api/torrents` was asked for. */
export interface ListQuery {
  readonly fields: readonly (keyof TorrentRow)[];
  readonly offset: number;
  readonly limit: number;
  readonly sort: keyof TorrentRow;
  readonly descending: boolean;
  readonly states?: ReadonlySet<string>;
  readonly search?: string;
}

/** Most rows one page may hold. */
export const MAX_PAGE = 10_000;
const DEFAULT_PAGE = 1000;
const STATES = new Set([
  'metadata',
  'checking',
  'downloading',
  'seeding',
  'paused',
  'stopped',
  'error',
]);

/** Reads `fields`, `offset`, `limit`, `sort`, `order`, `state`, `q`. @throws {ApiError} 400 */
export function parseListQuery(query: URLSearchParams): ListQuery {
  const fieldList = query.get('fields');
  const fields =
    fieldList === null || fieldList === ''
      ? ROW_FIELDS
      : fieldList.split(',').map((f) => {
          if (!(ROW_FIELDS as readonly string[]).includes(f))
            throw badRequest(
              `unknown field "${f}"; fields are ${ROW_FIELDS.join(', ')}`,
              'BAD_QUERY',
            );
          return f as keyof TorrentRow;
        });
  const int = (name: string, fallback: number, min: number, max: number) => {
    const raw = query.get(name);
    if (raw === null) return fallback;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min || n > max)
      throw badRequest(`"${name}" must be an integer ${min}..${max}, not "${raw}"`, 'BAD_QUERY');
    return n;
  };
  const sort = query.get('sort') ?? 'addedAt';
  if (!(ROW_FIELDS as readonly string[]).includes(sort))
    throw badRequest(`cannot sort by "${sort}"`, 'BAD_QUERY');
  const order = query.get('order') ?? 'asc';
  if (order !== 'asc' && order !== 'desc')
    throw badRequest(`"order" is asc or desc, not "${order}"`, 'BAD_QUERY');
  const stateList = query.get('state');
  let states: Set<string> | undefined;
  if (stateList !== null && stateList !== '') {
    states = new Set(stateList.split(','));
    for (const s of states)
      if (!STATES.has(s)) throw badRequest(`unknown state "${s}"`, 'BAD_QUERY');
  }
  const search = query.get('q');
  return {
    fields,
    offset: int('offset', 0, 0, Number.MAX_SAFE_INTEGER),
    limit: int('limit', DEFAULT_PAGE, 1, MAX_PAGE),
    sort: sort as keyof TorrentRow,
    descending: order === 'desc',
    ...(states && { states }),
    ...(search !== null && search !== '' && { search: search.toLowerCase() }),
  };
}

/** Filters, sorts, pages and projects rows. */
export function listRows(
  summaries: readonly TorrentSummary[],
  q: ListQuery,
): { total: number; offset: number; torrents: Partial<TorrentRow>[] } {
  let rows = summaries.map(toRow);
  if (q.states) rows = rows.filter((r) => q.states!.has(r.state));
  if (q.search) rows = rows.filter((r) => r.name.toLowerCase().includes(q.search!));
  const key = q.sort;
  const sign = q.descending ? -1 : 1;
  rows.sort((a, b) => sign * compare(a[key], b[key]) || compare(a.id, b.id));
  const page = rows.slice(q.offset, q.offset + q.limit);
  return {
    total: rows.length,
    offset: q.offset,
    torrents: page.map((r) => project(r, q.fields)),
  };
}

/** The chosen fields of a row. */
export function project(
  row: TorrentRow,
  fields: readonly (keyof TorrentRow)[],
): Partial<TorrentRow> {
  const out: Record<string, unknown> = {};
  for (const f of fields) out[f] = row[f];
  return out as Partial<TorrentRow>;
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}
