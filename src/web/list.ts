import type { Delta, Row } from './api.js';
import { bytes, eta, percent, rate } from './format.js';

/** Height of one row in pixels (the CSS says the same). */
const ROW_HEIGHT = 28;
/** Rows drawn above and below the visible ones, so fast scrolling shows no gaps. */
const OVERSCAN = 8;

type SortKey = keyof Row;

/**
 * The torrent list, virtualised: only the rows in view exist in the DOM (a fixed pool of
 * elements reused as the list scrolls), so 10,000 torrents cost as much to draw as 40. Rows
 * live in a map updated from the event stream; the sorted, filtered order is recomputed only
 * when something it depends on changed.
 */
export class TorrentList {
  readonly rows = new Map<string, Row>();
  private order: string[] = [];
  private orderDirty = true;
  private sortKey: SortKey = 'addedAt';
  private descending = false;
  private text = '';
  private state = '';
  private selectedId: string | undefined;
  private pool: HTMLElement[] = [];
  private frame = 0;
  /** Called once, after the first render that drew rows (the benchmark's "first paint"). */
  onFirstRows: (() => void) | undefined;

  constructor(
    private readonly viewport: HTMLElement,
    private readonly spacer: HTMLElement,
    private readonly empty: HTMLElement,
    private readonly onSelect: (id: string | undefined) => void,
    private readonly onOpen: (id: string) => void,
  ) {
    viewport.addEventListener('scroll', () => this.schedule());
    new ResizeObserver(() => this.schedule()).observe(viewport);
    spacer.addEventListener('click', (e) => {
      const id = (e.target as HTMLElement).closest<HTMLElement>('.row')?.dataset.id;
      if (id) this.select(id);
    });
    spacer.addEventListener('dblclick', (e) => {
      const id = (e.target as HTMLElement).closest<HTMLElement>('.row')?.dataset.id;
      if (id) this.onOpen(id);
    });
  }

  get selected(): string | undefined {
    return this.selectedId;
  }

  /** Replaces every row (a snapshot). */
  setAll(rows: readonly Row[]): void {
    this.rows.clear();
    for (const r of rows) this.rows.set(r.id, r);
    this.orderDirty = true;
    this.schedule();
  }

  /** Applies a delta from the stream. */
  apply(delta: Delta): void {
    for (const r of delta.added ?? []) this.rows.set(r.id, r);
    for (const id of delta.removed ?? []) {
      this.rows.delete(id);
      if (id === this.selectedId) this.select(undefined);
    }
    if ((delta.added?.length ?? 0) > 0 || (delta.removed?.length ?? 0) > 0) this.orderDirty = true;
    for (const change of delta.changed ?? []) {
      const row = this.rows.get(change.id);
      if (!row) continue;
      Object.assign(row, change);
      if (this.sortKey in change || 'name' in change || 'state' in change) this.orderDirty = true;
    }
    this.schedule();
  }

  /** Sorts by `key`; the same key again flips the direction. */
  sortBy(key: SortKey): void {
    this.descending = this.sortKey === key ? !this.descending : key !== 'name';
    this.sortKey = key;
    this.orderDirty = true;
    this.schedule();
  }

  get sort(): { key: SortKey; descending: boolean } {
    return { key: this.sortKey, descending: this.descending };
  }

  filter(text: string, state: string): void {
    this.text = text.trim().toLowerCase();
    this.state = state;
    this.orderDirty = true;
    this.schedule();
  }

  /** Selects a torrent (and scrolls it into view). */
  select(id: string | undefined): void {
    this.selectedId = id;
    if (id !== undefined) {
      this.ensureOrder();
      const index = this.order.indexOf(id);
      if (index >= 0) this.scrollTo(index);
    }
    this.onSelect(id);
    this.schedule();
  }

  /** Moves the selection by `step` rows (clamped), as the arrow keys do. */
  move(step: number): void {
    this.ensureOrder();
    if (this.order.length === 0) return;
    const at = this.selectedId === undefined ? -1 : this.order.indexOf(this.selectedId);
    const next = Math.max(0, Math.min(this.order.length - 1, at < 0 ? 0 : at + step));
    this.select(this.order[next]);
  }

  /** Rows shown now (after filtering). */
  get visibleCount(): number {
    this.ensureOrder();
    return this.order.length;
  }

  private scrollTo(index: number): void {
    const top = index * ROW_HEIGHT;
    const v = this.viewport;
    if (top < v.scrollTop) v.scrollTop = top;
    else if (top + ROW_HEIGHT > v.scrollTop + v.clientHeight)
      v.scrollTop = top + ROW_HEIGHT - v.clientHeight;
  }

  private schedule(): void {
    if (this.frame !== 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private ensureOrder(): void {
    if (!this.orderDirty) return;
    this.orderDirty = false;
    const rows: Row[] = [];
    for (const r of this.rows.values()) {
      if (this.state !== '' && r.state !== this.state) continue;
      if (this.text !== '' && !r.name.toLowerCase().includes(this.text)) continue;
      rows.push(r);
    }
    const key = this.sortKey;
    const sign = this.descending ? -1 : 1;
    rows.sort((a, b) => {
      const x = a[key];
      const y = b[key];
      if (x === y) return a.id < b.id ? -1 : 1;
      if (x === null) return 1;
      if (y === null) return -1;
      return (
        sign *
        (typeof x === 'number' && typeof y === 'number'
          ? x - y
          : String(x).localeCompare(String(y)))
      );
    });
    this.order = rows.map((r) => r.id);
  }

  private render(): void {
    this.ensureOrder();
    const total = this.order.length;
    this.spacer.style.height = `${total * ROW_HEIGHT}px`;
    this.empty.hidden = this.rows.size > 0;
    const first = Math.max(0, Math.floor(this.viewport.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const count = Math.ceil(this.viewport.clientHeight / ROW_HEIGHT) + 2 * OVERSCAN;
    while (this.pool.length < count) this.pool.push(this.spacer.appendChild(makeRow()));
    for (let slot = 0; slot < this.pool.length; slot++) {
      const el = this.pool[slot]!;
      const index = first + slot;
      const id = index < total ? this.order[index] : undefined;
      const row = id === undefined ? undefined : this.rows.get(id);
      if (!row) {
        el.hidden = true;
        continue;
      }
      el.hidden = false;
      el.style.transform = `translateY(${index * ROW_HEIGHT}px)`;
      fill(el, row, index, total, row.id === this.selectedId);
    }
    if (total > 0 && this.onFirstRows) {
      const done = this.onFirstRows;
      this.onFirstRows = undefined;
      done();
    }
  }
}

function makeRow(): HTMLElement {
  const el = document.createElement('div');
  el.className = 'row';
  el.setAttribute('role', 'option');
  el.innerHTML =
    '<span class="c-name"></span><span class="c-num"></span>' +
    '<span class="c-progress progress"><span class="bar"><span class="fill"></span></span><span class="pct"></span></span>' +
    '<span class="c-state"></span><span class="c-num down"></span>' +
    '<span class="c-num up"></span><span class="c-num"></span>' +
    '<span class="c-small"></span><span class="c-small"></span>';
  return el;
}

function fill(el: HTMLElement, r: Row, index: number, total: number, selected: boolean): void {
  el.dataset.id = r.id;
  el.setAttribute('aria-posinset', String(index + 1));
  el.setAttribute('aria-setsize', String(total));
  el.setAttribute('aria-selected', String(selected));
  el.className = `row state-${r.state}`;
  const c = el.children;
  setText(c[0], r.name);
  (c[0] as HTMLElement).title = r.error ?? r.name;
  setText(c[1], r.size > 0 ? bytes(r.size) : '');
  const fillEl = c[2]?.firstElementChild?.firstElementChild as HTMLElement | null;
  if (fillEl) fillEl.style.width = `${r.progress * 100}%`;
  setText(c[2]?.lastElementChild ?? undefined, percent(r.progress));
  setText(c[3], r.state);
  setText(c[4], rate(r.downloadRate));
  setText(c[5], rate(r.uploadRate));
  setText(c[6], r.state === 'downloading' ? eta(r.eta) : '');
  setText(c[7], r.peers > 0 ? String(r.peers) : '');
  setText(c[8], r.ratio.toFixed(2));
}

function setText(el: Element | undefined, text: string): void {
  if (el && el.textContent !== text) el.textContent = text;
}
