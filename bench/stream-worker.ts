/**
 * A WebTorrent (npm `webtorrent` 1.x) viewer for the `stream` benchmark: it adds the torrent
 * with one peer (the benchmark's seeder; no DHT, trackers or LSD) and serves the file's byte
 * ranges over HTTP from `file.createReadStream({ start, end })`, as shoal's stream server does,
 * so both are measured by the same HTTP client. Prints `{"event":"ready","url":…}`.
 * Arguments: torrent path, download folder, seeder `host:port`.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import WebTorrent from 'webtorrent';

const [torrentPath, downloadDir, seeder] = process.argv.slice(2) as [string, string, string];
const client = new WebTorrent({ dht: false, tracker: false, lsd: false, webSeeds: false });
client.on('error', (error) => {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});
const torrent = client.add(readFileSync(torrentPath), { path: downloadDir });
torrent.on('ready', () => {
  const file = torrent.files[0]!;
  const server = createServer((req, res) => {
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m?.[2] ? Math.min(Number(m[2]), file.length - 1) : file.length - 1;
    res.writeHead(m ? 206 : 200, {
      'content-length': String(end - start + 1),
      ...(m && { 'content-range': `bytes ${start}-${end}/${file.length}` }),
    });
    const stream = file.createReadStream({ start, end });
    stream.pipe(res);
    res.on('close', () => stream.destroy());
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    process.stdout.write(
      `${JSON.stringify({ event: 'ready', url: `http://127.0.0.1:${port}/${encodeURIComponent(file.name)}` })}\n`,
    );
  });
});
torrent.addPeer(seeder);
setInterval(() => {
  process.stdout.write(`${JSON.stringify({ event: 'progress', progress: torrent.progress })}\n`);
}, 1000);
