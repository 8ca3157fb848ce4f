import { ApiFailure, call, follow, type Row, type Session } from './api.js';
import { DetailPane } from './detail.js';
import { rate } from './format.js';
import { RateHistory } from './graph.js';
import { TorrentList } from './list.js';

/**
 * The web UI's entry point: wires the list, the detail pane, the dialogs and the keyboard to the
 * daemon's API and event stream. Plain TypeScript and the DOM, no framework: the UI is one list,
 * one pane and three dialogs, and the list's speed at 10,000 rows comes from drawing only the
 * rows in view, which no framework would do for us.
 */

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const status = $('status');
const say = (message: string) => {
  status.textContent = message;
};

// Theme: the saved choice, else the system's.
const root = document.documentElement;
const savedTheme = localStorage.getItem('shoal-theme');
if (savedTheme === 'dark' || savedTheme === 'light') root.dataset.theme = savedTheme;
else if (matchMedia('(prefers-color-scheme: dark)').matches) root.dataset.theme = 'dark';
$('theme-button').addEventListener('click', () => {
  const next = root.dataset.theme === 'dark' ? 'light' : 'dark';
  root.dataset.theme = next;
  localStorage.setItem('shoal-theme', next);
  detail.tick();
});

let session: Session = {};
const sessionHistory = new RateHistory();
let selectedHistory = { id: '', history: new RateHistory() };
const historyOf = (id: string) =>
  id === selectedHistory.id ? selectedHistory.history : sessionHistory;

const detail = new DetailPane(
  $('detail'),
  $('detail-body'),
  $<HTMLCanvasElement>('graph'),
  historyOf,
  say,
);
const pauseButton = $<HTMLButtonElement>('pause-button');
const removeButton = $<HTMLButtonElement>('remove-button');

const list = new TorrentList(
  $('viewport'),
  $('spacer'),
  $('empty'),
  (id) => {
    pauseButton.disabled = removeButton.disabled = id === undefined;
    updatePauseLabel();
    if (id !== undefined && id !== selectedHistory.id)
      selectedHistory = { id, history: new RateHistory() };
    if (id !== undefined && detail.openId !== undefined && detail.openId !== id) detail.open(id);
  },
  (id) => detail.open(id),
);
list.onFirstRows = () => performance.mark('shoal-list-painted');

function updatePauseLabel(): void {
  const row = list.selected === undefined ? undefined : list.rows.get(list.selected);
  pauseButton.textContent = row?.state === 'paused' ? 'Resume' : 'Pause';
}

function updateTotals(): void {
  $('totals').textContent =
    `${list.rows.size} torrents · ↓ ${rate(session.downloadRate ?? 0) || '0 B/s'} · ↑ ${rate(session.uploadRate ?? 0) || '0 B/s'}`;
}

follow(
  (rows: Row[], s: Session) => {
    list.setAll(rows);
    session = s;
    updateTotals();
    performance.mark('shoal-snapshot');
  },
  (delta) => {
    list.apply(delta);
    if (delta.session) session = { ...session, ...delta.session };
    sessionHistory.push(session.downloadRate ?? 0, session.uploadRate ?? 0);
    const row = list.rows.get(selectedHistory.id);
    if (row) selectedHistory.history.push(row.downloadRate, row.uploadRate);
    updateTotals();
    updatePauseLabel();
    detail.tick();
  },
  (connected) => say(connected ? 'connected' : 'connection lost; reconnecting…'),
);

// Sorting by column.
for (const head of document.querySelectorAll<HTMLElement>('[data-sort]')) {
  head.addEventListener('click', () => {
    list.sortBy(head.dataset.sort as keyof Row);
    for (const h of document.querySelectorAll<HTMLElement>('[data-sort]'))
      h.removeAttribute('aria-sort');
    head.setAttribute('aria-sort', list.sort.descending ? 'descending' : 'ascending');
  });
}

// Filtering.
const filterInput = $<HTMLInputElement>('filter');
const stateFilter = $<HTMLSelectElement>('state-filter');
const refilter = () => list.filter(filterInput.value, stateFilter.value);
filterInput.addEventListener('input', refilter);
stateFilter.addEventListener('change', refilter);

// Actions on the selection.
async function togglePause(): Promise<void> {
  const id = list.selected;
  const row = id === undefined ? undefined : list.rows.get(id);
  if (!row) return;
  const verb = row.state === 'paused' ? 'resume' : 'pause';
  try {
    const updated = await call<Row>('POST', `/api/torrents/${row.id}/${verb}`);
    list.apply({ changed: [{ id: row.id, state: updated.state }] });
    updatePauseLabel();
    say(`${verb === 'pause' ? 'paused' : 'resumed'} ${row.name}`);
  } catch (error) {
    say((error as Error).message);
  }
}
pauseButton.addEventListener('click', () => void togglePause());

const removeDialog = $<HTMLDialogElement>('remove-dialog');
function askRemove(): void {
  const row = list.selected === undefined ? undefined : list.rows.get(list.selected);
  if (!row) return;
  $('remove-name').textContent = row.name;
  $<HTMLInputElement>('remove-data').checked = false;
  removeDialog.showModal();
}
removeButton.addEventListener('click', askRemove);
removeDialog.addEventListener('close', async () => {
  const id = list.selected;
  if (removeDialog.returnValue !== 'remove' || id === undefined) return;
  const deleteData = $<HTMLInputElement>('remove-data').checked;
  try {
    await call('DELETE', `/api/torrents/${id}?deleteData=${deleteData}`);
    list.apply({ removed: [id] });
    if (detail.openId === id) detail.close();
    say(deleteData ? 'removed, with its files' : 'removed; its files stay on disk');
  } catch (error) {
    say((error as Error).message);
  }
});

// Adding.
const addDialog = $<HTMLDialogElement>('add-dialog');
const addError = $('add-error');
$('add-button').addEventListener('click', () => {
  addError.textContent = '';
  addDialog.showModal();
  $('add-link').focus();
});
$('add-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const link = $<HTMLTextAreaElement>('add-link').value.trim();
  const file = $<HTMLInputElement>('add-file').files?.[0];
  const dir = $<HTMLInputElement>('add-dir').value.trim();
  const paused = $<HTMLInputElement>('add-paused').checked;
  const options = { ...(dir !== '' && { downloadDir: dir }), ...(paused && { paused }) };
  try {
    let added: Row;
    if (file) {
      const bytes = new Uint8Array(await file.arrayBuffer());
      let binary = '';
      for (const b of bytes) binary += String.fromCharCode(b);
      added = await call<Row>('POST', '/api/torrents', { torrent: btoa(binary), ...options });
    } else if (link.toLowerCase().startsWith('magnet:')) {
      added = await call<Row>('POST', '/api/torrents', { magnet: link, ...options });
    } else if (link !== '') {
      added = await call<Row>('POST', '/api/torrents', { url: link, ...options });
    } else {
      addError.textContent = 'Give a magnet link, a URL or a .torrent file.';
      return;
    }
    list.apply({ added: [added] });
    list.select(added.id);
    addDialog.close();
    ($('add-form') as HTMLFormElement).reset();
    say(`added ${added.name}`);
  } catch (error) {
    addError.textContent = error instanceof ApiFailure ? error.message : String(error);
  }
});

// Settings.
const settingsDialog = $<HTMLDialogElement>('settings-dialog');
interface Settings {
  uploadLimit: number;
  downloadLimit: number;
  downloadDir: string;
  port: number;
  dataDir: string;
  version: string;
}
$('settings-button').addEventListener('click', async () => {
  try {
    const s = await call<Settings>('GET', '/api/settings');
    $<HTMLInputElement>('set-down').value = String(Math.round(s.downloadLimit / 1024));
    $<HTMLInputElement>('set-up').value = String(Math.round(s.uploadLimit / 1024));
    $<HTMLInputElement>('set-dir').value = s.downloadDir;
    $('settings-info').textContent =
      `shoal ${s.version} · peer port ${s.port} · data in ${s.dataDir}`;
    $('settings-error').textContent = '';
    settingsDialog.showModal();
  } catch (error) {
    say((error as Error).message);
  }
});
$('settings-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const kib = (id: string) =>
    Math.max(0, Math.round(Number($<HTMLInputElement>(id).value) || 0)) * 1024;
  try {
    await call('PATCH', '/api/settings', {
      downloadLimit: kib('set-down'),
      uploadLimit: kib('set-up'),
      downloadDir: $<HTMLInputElement>('set-dir').value.trim(),
    });
    settingsDialog.close();
    say('settings saved');
  } catch (error) {
    $('settings-error').textContent = (error as Error).message;
  }
});

for (const b of document.querySelectorAll<HTMLButtonElement>('[data-close]')) {
  b.addEventListener('click', () => b.closest('dialog')?.close());
}
$('detail-close').addEventListener('click', () => detail.close());

// Keyboard: arrows move, Enter opens, space pauses, Delete removes, a adds, / filters.
document.addEventListener('keydown', (e) => {
  if (document.querySelector('dialog[open]')) return;
  const typing =
    e.target instanceof HTMLInputElement ||
    e.target instanceof HTMLTextAreaElement ||
    e.target instanceof HTMLSelectElement;
  if (e.key === 'Escape') {
    if (typing) (e.target as HTMLElement).blur();
    else detail.close();
    return;
  }
  if (typing) return;
  const keys: Record<string, () => void> = {
    ArrowDown: () => list.move(1),
    ArrowUp: () => list.move(-1),
    PageDown: () => list.move(20),
    PageUp: () => list.move(-20),
    Home: () => list.move(-Number.MAX_SAFE_INTEGER),
    End: () => list.move(Number.MAX_SAFE_INTEGER),
    Enter: () => list.selected !== undefined && detail.open(list.selected),
    ' ': () => void togglePause(),
    Delete: askRemove,
    a: () => $('add-button').click(),
    '/': () => filterInput.focus(),
  };
  const action = keys[e.key];
  if (action) {
    e.preventDefault();
    action();
  }
});
$('viewport').focus();
