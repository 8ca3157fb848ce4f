/**
 * One end of the `ledbat` benchmark's rate-limited link (bench/ledbat.ts), run inside a network
 * namespace:
 *
 *   node dist/bench/ledbat-peer.js recv HOST
 *     listens for uTP (UDP), TCP and delay probes (UDP echo) on HOST, prints
 *     {"event":"listening","utp","tcp","echo"}, then every 100 ms {"event":"tick","wall",
 *     "utp","tcp"} with the bytes received so far on each; runs until stdin closes.
 *
 *   node dist/bench/ledbat-peer.js send HOST UTP TCP ECHO UTP_AT TCP_AT END_AT
 *     sends a delay probe every 50 ms from the start ({"event":"probe","wall","rttMs"}); from
 *     wall time UTP_AT (ms since the epoch) pushes bytes over one uTP connection as fast as it
 *     will take them, from TCP_AT over one TCP connection too, and exits at END_AT.
 *
 * Wall-clock stamps let the orchestrator line up both processes' figures.
 */
import { createRealRuntime } from '../src/runtime/real.js';
import type { ByteStream, UdpSocket } from '../src/runtime/runtime.js';
import { UtpSocket } from '../src/transport/utp/socket.js';

const emit = (event: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ event, wall: Date.now(), ...fields })}\n`);

const runtime = createRealRuntime();
const CHUNK = Buffer.alloc(64 * 1024, 0x5a);

async function utpEndpoint(host: string): Promise<{ udp: UdpSocket; utp: UtpSocket }> {
  const udp = await runtime.udp.bind({ port: 0, host, recvBufferBytes: 1 << 22 });
  const utp = new UtpSocket(udp, {
    clock: runtime.clock,
    timers: runtime.timers,
    random: runtime.random,
    local: udp.address(),
  });
  udp.onMessage((data, from) => utp.receive(data, from));
  return { udp, utp };
}

async function receive(host: string): Promise<void> {
  const counts = { utp: 0, tcp: 0 };
  const { udp, utp } = await utpEndpoint(host);
  utp.onConnection((s: ByteStream) => {
    s.onData((d) => {
      counts.utp += d.length;
    });
  });
  const tcp = await runtime.tcp.listen({ port: 0, host }, (s) => {
    s.onData((d) => {
      counts.tcp += d.length;
    });
  });
  const echo = await runtime.udp.bind({ port: 0, host });
  echo.onMessage((data, from) => echo.send(data, from.port, from.address));
  emit('listening', {
    utp: udp.address().port,
    tcp: tcp.address().port,
    echo: echo.address().port,
  });
  const ticker = setInterval(() => emit('tick', counts), 100);
  await new Promise<void>((resolve) => {
    process.stdin.on('end', resolve);
    process.stdin.on('close', resolve);
    process.stdin.resume();
  });
  clearInterval(ticker);
  process.exit(0);
}

/** Writes as fast as `s` takes it, forever. */
function flood(s: ByteStream): void {
  const pump = () => {
    while (s.write(CHUNK)) {
      // the stream takes more
    }
  };
  s.onDrain(pump);
  pump();
}

const at = (wall: number, fn: () => void) => setTimeout(fn, Math.max(0, wall - Date.now()));

async function send(args: number[], host: string): Promise<void> {
  const [utpPort, tcpPort, echoPort, utpAt, tcpAt, endAt] = args as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const probe = await runtime.udp.bind({ port: 0, host: '0.0.0.0' });
  probe.onMessage((data) => {
    if (data.length === 8) emit('probe', { rttMs: performance.now() - data.readDoubleBE(0) });
  });
  const prober = setInterval(() => {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(performance.now());
    probe.send(b, echoPort, host);
  }, 50);
  const { utp } = await utpEndpoint('0.0.0.0');
  at(utpAt, () => {
    void utp.connect(host, utpPort).then((s) => {
      emit('utpStarted');
      flood(s);
    });
  });
  at(tcpAt, () => {
    void runtime.tcp.connect(host, tcpPort).then((s) => {
      emit('tcpStarted');
      flood(s);
    });
  });
  await new Promise<void>((resolve) => at(endAt, resolve));
  clearInterval(prober);
  emit('end');
  process.exit(0);
}

async function main(argv: string[]): Promise<void> {
  const [mode, host, ...rest] = argv;
  if (mode === 'recv' && host) await receive(host);
  else if (mode === 'send' && host && rest.length === 6) await send(rest.map(Number), host);
  else
    throw new Error('usage: ledbat-peer recv HOST | send HOST UTP TCP ECHO UTP_AT TCP_AT END_AT');
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
