import { call } from './api.js';
import { bytes, percent, rate } from './format.js';
import { drawGraph, type RateHistory } from './graph.js';

/** What the daemon tells about one torrent (the API's detail). */
interface Detail {
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
  downloadDir: string;
  error?: string;
  magnet: string;
  pieceLength: number;
  pieceCount: number;
  piecesHave: number;
  files: { index: number; path: string; length: number; have: number; priority: number }[];
  peerList: { address: string }[];
  trackers: {
    url: string;
    tier: number;
    state: string;
    peersReceived: number;
    error?: string;
    seeders?: number;
    leechers?: number;
  }[];
}

type Tab = 'overview' | 'files' | 'peers' | 'trackers' | 'speed';

/** Escapes text for HTML. */
function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The detail pane of the selected torrent: overview, files (with priorities that can be
 * changed), peers, trackers and a speed graph. Refreshed every two seconds while open.
 */
export class DetailPane {
  private id: string | undefined;
  private tab: Tab = 'overview';
  private timer = 0;
  private last: Detail | undefined;

  constructor(
    private readonly section: HTMLElement,
    private readonly body: HTMLElement,
    private readonly canvas: HTMLCanvasElement,
    private readonly history: (id: string) => RateHistory,
    private readonly report: (message: string) => void,
  ) {
    for (const b of section.querySelectorAll<HTMLButtonElement>('[role="tab"]')) {
      b.addEventListener('click', () => this.show(b.dataset.tab as Tab));
    }
    body.addEventListener('change', (e) => {
      const select = e.target as HTMLSelectElement;
      if (select.dataset.file !== undefined)
        void this.setPriority(Number(select.dataset.file), Number(select.value));
    });
  }

  get openId(): string | undefined {
    return this.id;
  }

  /** Opens the pane for a torrent. */
  open(id: string): void {
    this.id = id;
    this.section.hidden = false;
    void this.refresh();
    clearInterval(this.timer);
    this.timer = window.setInterval(() => void this.refresh(), 2000);
  }

  close(): void {
    this.id = undefined;
    this.section.hidden = true;
    clearInterval(this.timer);
  }

  /** Switches tab. */
  show(tab: Tab): void {
    this.tab = tab;
    for (const b of this.section.querySelectorAll<HTMLButtonElement>('[role="tab"]'))
      b.setAttribute('aria-selected', String(b.dataset.tab === tab));
    this.render();
  }

  /** Redraws the graph (called as new rates arrive). */
  tick(): void {
    if (this.tab === 'speed' && this.id !== undefined && this.last)
      drawGraph(this.canvas, this.history(this.id), this.last.name);
  }

  private async refresh(): Promise<void> {
    const id = this.id;
    if (id === undefined) return;
    try {
      const d = await call<Detail>('GET', `/api/torrents/${id}`);
      if (id !== this.id) return;
      this.last = d;
      this.render();
    } catch (error) {
      if (id === this.id) this.close();
      this.report((error as Error).message);
    }
  }

  private async setPriority(index: number, priority: number): Promise<void> {
    if (this.id === undefined) return;
    try {
      await call('PUT', `/api/torrents/${this.id}/files`, { files: [index], priority });
      await this.refresh();
    } catch (error) {
      this.report((error as Error).message);
    }
  }

  private render(): void {
    const d = this.last;
    this.canvas.hidden = this.tab !== 'speed';
    if (!d) {
      this.body.innerHTML = '<p class="muted">Loading…</p>';
      return;
    }
    switch (this.tab) {
      case 'overview':
        this.body.innerHTML = `<dl>${[
          ['Name', d.name],
          ['State', d.state + (d.error ? ` — ${d.error}` : '')],
          ['Progress', `${percent(d.progress)} — ${bytes(d.have)} of ${bytes(d.size)}`],
          ['Rates', `↓ ${rate(d.downloadRate) || '0'}   ↑ ${rate(d.uploadRate) || '0'}`],
          ['Transferred', `↓ ${bytes(d.downloaded)}   ↑ ${bytes(d.uploaded)}`],
          ['Pieces', `${d.piecesHave} of ${d.pieceCount} × ${bytes(d.pieceLength)}`],
          ['Saved in', d.downloadDir],
          ['Info-hash', d.id],
          ['Magnet', d.magnet],
        ]
          .map(([k, v]) => `<dt>${esc(k ?? '')}</dt><dd>${esc(v ?? '')}</dd>`)
          .join('')}</dl>`;
        break;
      case 'files':
        this.body.innerHTML = `<table class="files"><thead><tr><th>#</th><th>File</th><th>Size</th><th>Done</th><th>Priority</th></tr></thead><tbody>${d.files
          .map(
            (f) =>
              `<tr><td>${f.index}</td><td>${esc(f.path)}</td><td>${bytes(f.length)}</td><td>${percent(f.length === 0 ? 1 : f.have / f.length)}</td><td><select data-file="${f.index}" aria-label="Priority of ${esc(f.path)}">${[
                [0, 'Skip'],
                [1, 'Normal'],
                [4, 'High'],
              ]
                .map(
                  ([v, label]) =>
                    `<option value="${v}"${Math.min(4, f.priority) === v ? ' selected' : ''}>${label}</option>`,
                )
                .join('')}</select></td></tr>`,
          )
          .join('')}</tbody></table>`;
        break;
      case 'peers':
        this.body.innerHTML =
          d.peerList.length === 0
            ? '<p class="muted">No peers connected.</p>'
            : `<table><thead><tr><th>Address</th><th>Transport</th></tr></thead><tbody>${d.peerList
                .map((p) => `<tr><td>${esc(p.address)}</td><td>TCP</td></tr>`)
                .join('')}</tbody></table>`;
        break;
      case 'trackers':
        this.body.innerHTML =
          d.trackers.length === 0
            ? '<p class="muted">No trackers: peers come from the DHT, peer exchange and direct peers.</p>'
            : `<table><thead><tr><th>Tier</th><th>URL</th><th>Status</th><th>Peers</th><th>Seeders / leechers</th></tr></thead><tbody>${d.trackers
                .map(
                  (t) =>
                    `<tr><td>${t.tier}</td><td>${esc(t.url)}</td><td>${esc(t.state + (t.error ? `: ${t.error}` : ''))}</td><td>${t.peersReceived}</td><td>${t.seeders ?? '?'} / ${t.leechers ?? '?'}</td></tr>`,
                )
                .join('')}</tbody></table>`;
        break;
      case 'speed':
        this.body.innerHTML = '';
        this.tick();
        break;
    }
  }
}
