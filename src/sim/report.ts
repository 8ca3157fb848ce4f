/**
 * Hand-written SVG charts for simulation reports (no plotting dependency): line charts of
 * series, with optional vertical and horizontal reference lines, and an HTML page around them.
 */

/** One line on a chart. */
export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  readonly color?: string;
  /** Draw as steps (a CDF) rather than straight segments. */
  readonly step?: boolean;
}

/** A reference line across the chart, e.g. a lower bound. */
export interface Marker {
  readonly label: string;
  readonly value: number;
  readonly axis: 'x' | 'y';
  readonly color?: string;
}

/** What to draw. */
export interface ChartSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly markers?: readonly Marker[];
  readonly xMax?: number;
  readonly yMax?: number;
  readonly logX?: boolean;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const W = 720;
const H = 400;
const M = { left: 70, right: 20, top: 40, bottom: 55 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceStep(range: number, ticks: number): number {
  const raw = range / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const n = raw / mag;
  return (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * mag;
}

function fmt(v: number): string {
  if (Math.abs(v) >= 1000) return `${Math.round(v / 100) / 10}k`;
  if (Math.abs(v) >= 10 || v === 0) return String(Math.round(v));
  return String(Math.round(v * 100) / 100);
}

/** Renders one chart as a standalone SVG document. */
export function lineChart(spec: ChartSpec): string {
  const all = spec.series.flatMap((s) => s.points);
  const markers = spec.markers ?? [];
  const xs = [
    ...all.map((p) => p[0]),
    ...markers.filter((m) => m.axis === 'x').map((m) => m.value),
  ];
  const ys = [
    ...all.map((p) => p[1]),
    ...markers.filter((m) => m.axis === 'y').map((m) => m.value),
  ];
  const logX = spec.logX === true;
  const xMin = logX ? Math.max(1e-3, Math.min(...xs.filter((x) => x > 0), 1)) : 0;
  const xMax = spec.xMax ?? Math.max(1e-9, ...xs) * (logX ? 1.2 : 1.05);
  const yMax = spec.yMax ?? Math.max(1e-9, ...ys) * 1.05;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number) =>
    M.left +
    (logX
      ? ((Math.log10(Math.max(x, xMin)) - Math.log10(xMin)) /
          (Math.log10(xMax) - Math.log10(xMin))) *
        pw
      : (x / xMax) * pw);
  const sy = (y: number) => M.top + ph - (y / yMax) * ph;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(spec.title)}</text>`,
  ];
  // Axes and ticks.
  const yStep = niceStep(yMax, 5);
  for (let y = 0; y <= yMax + 1e-9; y += yStep) {
    out.push(
      `<line x1="${M.left}" x2="${W - M.right}" y1="${sy(y)}" y2="${sy(y)}" stroke="#eee"/>`,
      `<text x="${M.left - 6}" y="${sy(y) + 4}" text-anchor="end">${fmt(y)}</text>`,
    );
  }
  const xTicks: number[] = [];
  if (logX) {
    for (let e = Math.floor(Math.log10(xMin)); 10 ** e <= xMax; e++)
      for (const m of [1, 2, 5])
        if (m * 10 ** e >= xMin && m * 10 ** e <= xMax) xTicks.push(m * 10 ** e);
  } else {
    const xStep = niceStep(xMax, 8);
    for (let x = 0; x <= xMax + 1e-9; x += xStep) xTicks.push(x);
  }
  for (const x of xTicks) {
    out.push(
      `<line x1="${sx(x)}" x2="${sx(x)}" y1="${M.top}" y2="${M.top + ph}" stroke="#eee"/>`,
      `<text x="${sx(x)}" y="${M.top + ph + 16}" text-anchor="middle">${fmt(x)}</text>`,
    );
  }
  out.push(
    `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + ph}" stroke="black"/>`,
    `<line x1="${M.left}" x2="${W - M.right}" y1="${M.top + ph}" y2="${M.top + ph}" stroke="black"/>`,
    `<text x="${M.left + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(spec.xLabel)}</text>`,
    `<text transform="translate(16 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`,
  );
  spec.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const pts: string[] = [];
    let prev: readonly [number, number] | undefined;
    for (const p of s.points) {
      if (s.step && prev) pts.push(`${sx(p[0]).toFixed(1)},${sy(prev[1]).toFixed(1)}`);
      pts.push(`${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`);
      prev = p;
    }
    out.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`,
      `<rect x="${M.left + 10}" y="${M.top + 8 + i * 18}" width="14" height="4" fill="${color}"/>`,
      `<text x="${M.left + 30}" y="${M.top + 14 + i * 18}">${esc(s.name)}</text>`,
    );
  });
  markers.forEach((m, i) => {
    const color = m.color ?? '#555';
    if (m.axis === 'x') {
      const x = sx(m.value);
      out.push(
        `<line x1="${x}" x2="${x}" y1="${M.top}" y2="${M.top + ph}" stroke="${color}" stroke-dasharray="6 4"/>`,
        `<text x="${x + 4}" y="${M.top + 12 + 14 * i}" fill="${color}">${esc(m.label)}</text>`,
      );
    } else {
      const y = sy(m.value);
      out.push(
        `<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="${color}" stroke-dasharray="6 4"/>`,
        `<text x="${W - M.right - 4}" y="${y - 4}" text-anchor="end" fill="${color}">${esc(m.label)}</text>`,
      );
    }
  });
  out.push('</svg>');
  return out.join('\n');
}

/** The empirical CDF of `values` as chart points (x = value, y = fraction ≤ x). */
export function cdfPoints(values: readonly number[]): [number, number][] {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  const pts: [number, number][] = [];
  const every = Math.max(1, Math.floor(n / 2000)); // at most ~2000 points per line
  for (let i = 0; i < n; i += every) pts.push([s[i]!, (i + 1) / n]);
  if (n > 0) pts.push([s[n - 1]!, 1]);
  return pts;
}

/** An HTML page with a title, a table of figures and the charts. */
export function htmlReport(
  title: string,
  figures: Record<string, unknown>,
  charts: readonly string[],
): string {
  const rows = Object.entries(figures)
    .filter(([, v]) => typeof v !== 'object' || v === null)
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(String(v))}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:2em}td{padding:2px 12px;border-bottom:1px solid #eee}</style>
</head><body><h1>${esc(title)}</h1>
<table>${rows}</table>
${charts.map((c) => `<div>${c}</div>`).join('\n')}
</body></html>
`;
}
