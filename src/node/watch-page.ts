/**
 * The `/watch/<info-hash>/<file>` page: an HTML5 player of the file's stream URL with a small
 * overlay (seconds buffered ahead in the player, peers, download rate, progress, bytes from
 * web seeds), refreshed every second from `/watch-status/<info-hash>`. Plain HTML and one small
 * script served from `/watch.js`, so the page's CSP allows no inline script.
 */

/** The CSP of the watch page: its own script, media and status only. */
export const WATCH_CSP =
  "default-src 'none'; script-src 'self'; connect-src 'self'; media-src 'self'; style-src 'unsafe-inline'; img-src 'self'";

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

/** The page for a stream at `streamUrl` whose status is at `statusUrl`. */
export function watchPage(title: string, streamUrl: string, statusUrl: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · shoal</title>
<style>
html, body { margin: 0; height: 100%; background: #000; color: #eee; font: 14px system-ui, sans-serif; }
video { width: 100%; height: 100%; }
#overlay { position: fixed; top: 8px; left: 8px; padding: 6px 10px; border-radius: 4px;
  background: rgba(0, 0, 0, 0.6); white-space: pre; pointer-events: none; }
</style>
</head>
<body>
<video id="video" controls autoplay src="${escapeHtml(streamUrl)}" data-status="${escapeHtml(statusUrl)}"></video>
<div id="overlay">connecting…</div>
<script src="/watch.js"></script>
</body>
</html>
`;
}

/** The overlay's script (browser JavaScript). */
export const WATCH_SCRIPT = `'use strict';
(() => {
  const video = document.getElementById('video');
  const overlay = document.getElementById('overlay');
  const units = ['B', 'kB', 'MB', 'GB'];
  const bytes = (n) => {
    let i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return n.toFixed(i === 0 ? 0 : 1) + ' ' + units[i];
  };
  const ahead = () => {
    const t = video.currentTime;
    for (let i = 0; i < video.buffered.length; i++)
      if (video.buffered.start(i) <= t && t <= video.buffered.end(i)) return video.buffered.end(i) - t;
    return 0;
  };
  const tick = async () => {
    const buffer = 'buffer ' + ahead().toFixed(1) + ' s';
    try {
      const res = await fetch(video.dataset.status, { cache: 'no-store' });
      const s = await res.json();
      overlay.textContent = buffer + ' · ' + s.peers + ' peers · ↓ ' + bytes(s.downloadRate) + '/s · ' +
        (s.progress * 100).toFixed(1) + ' % · from web seeds ' + bytes(s.downloadedFromWebSeeds);
    } catch {
      overlay.textContent = buffer;
    }
  };
  window.setInterval(tick, 1000);
  tick();
})();
`;
