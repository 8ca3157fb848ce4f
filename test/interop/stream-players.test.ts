/**
 * Streaming to real players: a short video made with ffmpeg is shared by a shoal seeder limited
 * to about three times its bitrate, and `shoal stream` serves it over HTTP while it downloads.
 * ffprobe must read its duration and codecs before a fifth of it has arrived, ffmpeg must
 * decode a frame near the end without waiting for the whole file, and mpv must play the first
 * five seconds. A missing tool is a skip locally and a failure in CI.
 */
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { httpCall } from '../../src/runtime/http-server.js';
import { requireTool, run, runShoal, startShoal, tempDir } from './helpers.js';

const SECONDS = 60;
const egress = new EgressPolicy('loopback');

/** A stream served by `shoal stream` from a rate-limited `shoal share` seeder. */
async function streamFixture(t: TestContext) {
  const dir = await tempDir(t, 'shoal-stream-');
  const video = join(dir, 'clip.mp4');
  // H.264 + AAC in MP4 with its index (moov) at the end, as a camera or ffmpeg writes it by
  // default: a player must read the end of the file before it can play the start.
  const made = await run('ffmpeg', [
    ...['-v', 'error', '-y'],
    ...['-f', 'lavfi', '-i', `testsrc=duration=${SECONDS}:size=320x240:rate=25`],
    ...['-f', 'lavfi', '-i', `sine=frequency=440:duration=${SECONDS}`],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '300k', '-g', '50'],
    ...['-c:a', 'aac', '-b:a', '64k', '-shortest', video],
  ]);
  assert.equal(made.code, 0, made.stderr);
  const size = (await stat(video)).size;
  const bitrate = size / SECONDS;
  const torrent = join(dir, 'clip.torrent');
  const created = await runShoal([
    'create',
    video,
    '--v1',
    '--piece-length',
    '32768',
    '-o',
    torrent,
  ]);
  assert.equal(created.code, 0, created.stderr);
  const seeder = startShoal(t, [
    ...['share', video, '--torrent', torrent, '--standalone'],
    ...['--port', '0', '--host', '127.0.0.1', '--no-dht', '--json'],
    ...['--data-dir', join(dir, 'seed-data')],
    ...['--upload-limit', String(Math.round(3 * bitrate))],
  ]);
  const seeding = await seeder.waitForEvent('seeding', 30_000);
  const viewer = startShoal(t, [
    ...['stream', torrent, '--peer', `127.0.0.1:${seeding.port}`],
    ...['--host', '127.0.0.1', '--no-dht', '--json'],
    ...['-o', join(dir, 'viewer'), '--data-dir', join(dir, 'viewer-data')],
  ]);
  const streaming = await viewer.waitForEvent('streaming', 30_000);
  const url = streaming.url as string;
  const statusUrl = url.replace(/\/stream\/([0-9a-f]+)\/.*$/, '/watch-status/$1');
  const progress = async (): Promise<number> => {
    const res = await httpCall(egress, {
      method: 'GET',
      url: statusUrl,
      timeoutMs: 5000,
      maxBytes: 1 << 20,
    });
    return (JSON.parse(res.body.toString()) as { progress: number }).progress;
  };
  return { url, progress, size, viewer };
}

test('ffprobe, ffmpeg and mpv play a video while shoal downloads it', async (t) => {
  if (!requireTool(t, 'ffmpeg', ['ffmpeg', '-version'])) return;
  if (!requireTool(t, 'ffprobe', ['ffprobe', '-version'])) return;
  const { url, progress } = await streamFixture(t);

  const probed = await run('ffprobe', [
    ...['-v', 'error', '-of', 'json'],
    ...['-show_entries', 'format=duration:stream=codec_name,codec_type', url],
  ]);
  const probedAt = await progress();
  assert.equal(probed.code, 0, probed.stderr);
  const info = JSON.parse(probed.stdout) as {
    format: { duration: string };
    streams: { codec_name: string }[];
  };
  assert.ok(Math.abs(Number(info.format.duration) - SECONDS) < 0.5, info.format.duration);
  assert.deepEqual(info.streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
  assert.ok(probedAt < 0.2, `ffprobe answered at ${(probedAt * 100).toFixed(1)} % downloaded`);

  const dir = await tempDir(t, 'shoal-frame-');
  const frame = join(dir, 'frame.png');
  const grabbed = await run('ffmpeg', [
    ...['-v', 'error', '-y', '-ss', String(SECONDS - 4), '-i', url],
    ...['-frames:v', '1', frame],
  ]);
  const grabbedAt = await progress();
  assert.equal(grabbed.code, 0, grabbed.stderr);
  assert.ok((await stat(frame)).size > 1000, 'a decoded frame');
  assert.ok(grabbedAt < 1, 'the frame came before the whole file had arrived');

  if (!requireTool(t, 'mpv', ['mpv', '--version'])) return;
  const played = await run('timeout', [
    '60',
    ...['mpv', '--no-config', '--vo=null', '--ao=null', '--end=5', url],
  ]);
  assert.equal(played.code, 0, `${played.stdout.slice(-2000)}\n${played.stderr.slice(-2000)}`);
  assert.match(played.stdout, /Exiting\.\.\. \(End of file\)|Exiting\.\.\. \(Quit\)/);
});

test('the stream answers HEAD, ranges, suffix ranges and out-of-range requests', async (t) => {
  if (!requireTool(t, 'ffmpeg', ['ffmpeg', '-version'])) return;
  const { url, size } = await streamFixture(t);
  const call = (method: string, range?: string) =>
    httpCall(egress, {
      method,
      url,
      ...(range !== undefined && { headers: { range } }),
      timeoutMs: 30_000,
      maxBytes: 64 << 20,
    });
  const head = await call('HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String(size));
  assert.equal(head.headers['accept-ranges'], 'bytes');
  assert.equal(head.headers['content-type'], 'video/mp4');
  assert.equal(head.body.length, 0);
  const tail = await call('GET', 'bytes=-100');
  assert.equal(tail.status, 206);
  assert.equal(tail.headers['content-range'], `bytes ${size - 100}-${size - 1}/${size}`);
  assert.equal(tail.body.length, 100);
  const middle = await call('GET', `bytes=${size >> 1}-${(size >> 1) + 99999}`);
  assert.equal(middle.status, 206);
  assert.equal(middle.body.length, 100_000);
  const past = await call('GET', `bytes=${size}-`);
  assert.equal(past.status, 416);
  assert.equal(past.headers['content-range'], `bytes */${size}`);
  // Two viewers at once, one of them the whole file: both complete with the same bytes.
  const [whole, again] = await Promise.all([call('GET'), call('GET', `bytes=${size >> 1}-`)]);
  assert.equal(whole.status, 200);
  assert.equal(whole.body.length, size);
  assert.deepEqual(again.body, whole.body.subarray(size >> 1));
  assert.deepEqual(middle.body, whole.body.subarray(size >> 1, (size >> 1) + 100_000));
  assert.deepEqual(tail.body, whole.body.subarray(size - 100));
});
