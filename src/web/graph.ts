import { rate } from './format.js';

/** Samples kept: two minutes at one a second. */
const SAMPLES = 120;

/** Download and upload rates over the last two minutes, for the speed graph. */
export class RateHistory {
  readonly down: number[] = [];
  readonly up: number[] = [];

  push(down: number, up: number): void {
    this.down.push(down);
    this.up.push(up);
    if (this.down.length > SAMPLES) {
      this.down.shift();
      this.up.shift();
    }
  }
}

/** Draws a history as two lines (download, upload) on a canvas, in the theme's colours. */
export function drawGraph(canvas: HTMLCanvasElement, history: RateHistory, title: string): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (width === 0 || height === 0) return;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  ctx.scale(ratio, ratio);
  const style = getComputedStyle(document.documentElement);
  const color = (name: string) => style.getPropertyValue(name).trim();
  ctx.clearRect(0, 0, width, height);
  const max = Math.max(1024, ...history.down, ...history.up);
  ctx.strokeStyle = color('--line');
  ctx.beginPath();
  ctx.moveTo(0, height - 0.5);
  ctx.lineTo(width, height - 0.5);
  ctx.stroke();
  const line = (values: readonly number[], stroke: string) => {
    ctx.strokeStyle = stroke;
    ctx.lineWidth = 2;
    ctx.beginPath();
    values.forEach((v, i) => {
      const x = width - (values.length - 1 - i) * (width / (SAMPLES - 1));
      const y = height - 4 - (v / max) * (height - 24);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
  };
  line(history.down, color('--down'));
  line(history.up, color('--up'));
  ctx.fillStyle = color('--muted');
  ctx.font = '12px system-ui, sans-serif';
  const last = (a: readonly number[]) => a[a.length - 1] ?? 0;
  ctx.fillText(
    `${title} — ↓ ${rate(last(history.down)) || '0'}  ↑ ${rate(last(history.up)) || '0'}  (peak ${rate(max)})`,
    4,
    14,
  );
}
