/**
 * The web UI's way to the daemon: JSON calls with the token the daemon put into the page
 * (served on loopback only; elsewhere the browser asks for the configured user and password),
 * and the event stream read with fetch so the same credentials apply (EventSource cannot send
 * headers).
 */

/** A torrent as the list shows it (the API's row). */
export interface Row {
  id: string;
  name: string;
  state: string;
  size: number;
  have: number;
  progress: number;
  downloadRate: number;
  uploadRate: number;
  downloaded: number;
  uploaded: number;
  peers: number;
  eta: number | null;
  ratio: number;
  addedAt: number;
  downloadDir: string;
  error: string | null;
}

/** Node-wide figures sent with the stream. */
export interface Session {
  torrents?: number;
  downloadRate?: number;
  uploadRate?: number;
  peers?: number;
}

/** A change sent by the stream. */
export interface Delta {
  added?: Row[];
  changed?: (Partial<Row> & { id: string })[];
  removed?: string[];
  session?: Session;
}

/** An answer that was an error, with the API's stable code. */
export class ApiFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const token = document.querySelector<HTMLMetaElement>('meta[name="shoal-token"]')?.content ?? '';

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return token === '' ? extra : { ...extra, authorization: `Bearer ${token}` };
}

/** Calls the API and parses its JSON answer. @throws {ApiFailure} */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const raw = body instanceof ArrayBuffer;
  const init: RequestInit = {
    method,
    headers: headers(
      body === undefined
        ? {}
        : { 'content-type': raw ? 'application/x-bittorrent' : 'application/json' },
    ),
  };
  if (body !== undefined) init.body = raw ? body : JSON.stringify(body);
  const res = await fetch(path, init);
  const json = (await res.json().catch(() => ({}))) as {
    error?: { code: string; message: string };
  };
  if (!res.ok)
    throw new ApiFailure(json.error?.code ?? 'HTTP', json.error?.message ?? res.statusText);
  return json as T;
}

/**
 * Follows `/api/events`: `onSnapshot` with every row first, then `onDelta` for each change.
 * Reconnects (with a fresh snapshot) when the stream ends.
 */
export function follow(
  onSnapshot: (rows: Row[], session: Session) => void,
  onDelta: (delta: Delta) => void,
  onState: (connected: boolean) => void,
): void {
  const connect = async () => {
    try {
      const res = await fetch('/api/events', { headers: headers() });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      onState(true);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // reconnect below
    }
    onState(false);
    window.setTimeout(connect, 2000);
  };
  const dispatch = (message: string) => {
    let event = 'message';
    let data = '';
    for (const line of message.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (data === '') return;
    const parsed = JSON.parse(data) as { torrents?: Row[]; session?: Session } & Delta;
    if (event === 'snapshot') onSnapshot(parsed.torrents ?? [], parsed.session ?? {});
    else if (event === 'delta') onDelta(parsed);
  };
  void connect();
}
