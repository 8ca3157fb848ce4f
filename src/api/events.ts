import type { HttpStreamSink } from '../runtime/http-server.js';
import type { TimerHandle, Timers } from '../runtime/runtime.js';
import type { NodeControl, SessionStats } from './control.js';
import { ROW_FIELDS, type TorrentRow, toRow } from './rows.js';

/**
 * The live event stream (Server-Sent Events on `GET /api/events`). A client first gets a
 * `snapshot` of every row, then once a second a `delta` holding only what changed: new rows,
 * removed ids, and for other rows only the fields that differ. Rows are rounded (see
 * `TorrentRow`), so 10,000 idle torrents cost nothing on the wire. All clients share one
 * snapshot of the previous tick, so the work per tick does not grow with the clients.
 */
export class EventHub {
  private readonly clients = new Set<HttpStreamSink>();
  private previous = new Map<string, TorrentRow>();
  private previousSession: Partial<SessionStats> = {};
  private timer: TimerHandle | undefined;
  private sinceKeepAlive = 0;

  constructor(
    private readonly control: NodeControl,
    private readonly timers: Timers,
    private readonly intervalMs = 1000,
  ) {}

  /** Clients connected now. */
  get size(): number {
    return this.clients.size;
  }

  /** Adds a client: it gets the current snapshot at once, then deltas. */
  connect(sink: HttpStreamSink): void {
    this.tick(); // bring everyone else (and `previous`) up to date first
    const session = this.sessionFields();
    this.previousSession = session;
    sink.write('retry: 2000\n\n');
    sink.write(message('snapshot', { torrents: [...this.previous.values()], session }));
    this.clients.add(sink);
    sink.onClose(() => this.disconnect(sink));
    this.timer ??= this.timers.setInterval(() => this.tick(), this.intervalMs);
  }

  /** Ends every stream (the daemon is stopping). */
  close(): void {
    for (const c of [...this.clients]) {
      c.end();
      this.disconnect(c);
    }
  }

  /** Computes what changed since the last tick and sends it to every client. */
  tick(): void {
    const rows = new Map<string, TorrentRow>();
    for (const s of this.control.summaries()) rows.set(s.id, toRow(s));
    const added: TorrentRow[] = [];
    const changed: Record<string, unknown>[] = [];
    for (const [id, row] of rows) {
      const before = this.previous.get(id);
      if (!before) {
        added.push(row);
        continue;
      }
      let diff: Record<string, unknown> | undefined;
      for (const f of ROW_FIELDS) {
        if (row[f] !== before[f]) {
          diff ??= { id };
          diff[f] = row[f];
        }
      }
      if (diff) changed.push(diff);
    }
    const removed = [...this.previous.keys()].filter((id) => !rows.has(id));
    this.previous = rows;
    const session = this.sessionFields();
    const sessionDiff: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(session)) {
      if (this.previousSession[k as keyof SessionStats] !== v) sessionDiff[k] = v;
    }
    this.previousSession = session;
    if (this.clients.size === 0) return;
    const parts: Record<string, unknown> = {};
    if (added.length > 0) parts.added = added;
    if (changed.length > 0) parts.changed = changed;
    if (removed.length > 0) parts.removed = removed;
    if (Object.keys(sessionDiff).length > 0) parts.session = sessionDiff;
    this.sinceKeepAlive += this.intervalMs;
    if (Object.keys(parts).length > 0) {
      this.broadcast(message('delta', parts));
    } else if (this.sinceKeepAlive >= 15_000) {
      this.broadcast(': keep-alive\n\n');
    }
  }

  private broadcast(text: string): void {
    this.sinceKeepAlive = 0;
    for (const c of this.clients) {
      // A client that cannot keep up is dropped; it reconnects and starts from a snapshot.
      if (c.buffered() > MAX_BUFFERED_BYTES) {
        c.end();
        this.disconnect(c);
        continue;
      }
      c.write(text);
    }
  }

  private disconnect(sink: HttpStreamSink): void {
    this.clients.delete(sink);
    if (this.clients.size === 0) {
      this.timer?.cancel();
      this.timer = undefined;
    }
  }

  /**
   * Session figures worth streaming (uptime would change every tick, and the secure connection
   * counts, an object, would look changed every time: both are left out).
   */
  private sessionFields(): Partial<SessionStats> {
    const { uptime: _uptime, secureConnections: _secure, ...rest } = this.control.session();
    return {
      ...rest,
      downloadRate: Math.round(rest.downloadRate),
      uploadRate: Math.round(rest.uploadRate),
    };
  }
}

/** Bytes a client may have queued before it counts as too slow. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

function message(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
