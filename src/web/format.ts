/** How numbers read in the web UI: sizes in binary units, rates per second, short durations. */

/** `1.5 GiB`. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[u]}`;
}

/** `1.2 MiB/s`, or an empty cell for nothing. */
export function rate(n: number): string {
  return n <= 0 ? '' : `${bytes(n)}/s`;
}

/** `3m05s`; `∞` when unknown. */
export function eta(seconds: number | null): string {
  if (seconds === null) return '∞';
  if (seconds === 0) return '';
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600)
    return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  if (seconds < 86_400)
    return `${Math.floor(seconds / 3600)}h${String(Math.floor(seconds / 60) % 60).padStart(2, '0')}m`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/** `42.0%`. */
export function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}
