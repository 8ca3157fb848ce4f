import type { Runtime, TimerHandle, UdpRemote, UdpSocket } from '../runtime/runtime.js';

/** The IPv4 multicast group and port of BEP 14. */
export const LSD_GROUP = '239.192.152.143';
export const LSD_PORT = 6771;
const MAX_PACKET = 1400;
const REANNOUNCE_MS = 5 * 60_000;
const MIN_GAP_MS = 60_000;

/** One BEP 14 announce: a listen port, info-hashes (hex) and the sender's cookie. */
export interface LsdAnnounce {
  readonly port: number;
  readonly infoHashes: readonly string[];
  readonly cookie?: string;
}

/** Formats a `BT-SEARCH` announce, several info-hashes per packet (≤ 1400 bytes). */
export function encodeLsdAnnounce(a: LsdAnnounce): Buffer {
  const lines = [
    'BT-SEARCH * HTTP/1.1',
    `Host: ${LSD_GROUP}:${LSD_PORT}`,
    `Port: ${a.port}`,
    ...a.infoHashes.map((h) => `Infohash: ${h}`),
    ...(a.cookie ? [`cookie: ${a.cookie}`] : []),
  ];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n\r\n`, 'latin1');
}

/** Parses an announce; anything else yields undefined (the group is shared with other software). */
export function decodeLsdAnnounce(packet: Buffer): LsdAnnounce | undefined {
  if (packet.length > MAX_PACKET * 2) return undefined;
  const text = packet.toString('latin1');
  const [first, ...rest] = text.split('\r\n');
  if (first !== 'BT-SEARCH * HTTP/1.1') return undefined;
  let port = 0;
  let cookie: string | undefined;
  const infoHashes: string[] = [];
  for (const line of rest) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'port' && /^\d{1,5}$/.test(value)) port = Number(value);
    else if (name === 'infohash' && /^[0-9a-fA-F]{40}$/.test(value) && infoHashes.length < 64)
      infoHashes.push(value.toLowerCase());
    else if (name === 'cookie') cookie = value.slice(0, 64);
  }
  if (port < 1 || port > 65535 || infoHashes.length === 0) return undefined;
  return { port, infoHashes, ...(cookie !== undefined && { cookie }) };
}

/**
 * Local service discovery (BEP 14): announces our torrents to the LAN's multicast group every
 * five minutes (at most one packet a minute, several info-hashes each) and reports peers that
 * announce torrents we have. Off by default; the egress policy must allow the group.
 */
export class LocalDiscovery {
  private socket: UdpSocket | undefined;
  private timer: TimerHandle | undefined;
  private readonly torrents = new Map<string, number>(); // hex → last announced at
  private readonly cookie: string;
  private lastSentAt = Number.NEGATIVE_INFINITY;

  private constructor(
    private readonly runtime: Runtime,
    private readonly listenPort: () => number,
    private readonly onPeer: (infoHash: string, host: string, port: number) => void,
  ) {
    this.cookie = runtime.random.bytes(8).toString('hex');
  }

  /** Joins the group on `interfaceAddress` (all interfaces when undefined). */
  static async start(
    runtime: Runtime,
    options: {
      listenPort: () => number;
      interfaceAddress?: string;
      onPeer: (infoHash: string, host: string, port: number) => void;
    },
  ): Promise<LocalDiscovery> {
    const lsd = new LocalDiscovery(runtime, options.listenPort, options.onPeer);
    const socket = await runtime.udp.bind({ port: LSD_PORT, reuseAddr: true });
    socket.addMembership(LSD_GROUP, options.interfaceAddress);
    socket.onMessage((data, from) => lsd.onPacket(data, from));
    socket.onError(() => {});
    lsd.socket = socket;
    lsd.timer = runtime.timers.setInterval(() => lsd.announceDue(), 10_000);
    return lsd;
  }

  /** Starts announcing a torrent (hex info-hash); the first announce goes out promptly. */
  add(infoHash: string): void {
    if (!this.torrents.has(infoHash)) this.torrents.set(infoHash, Number.NEGATIVE_INFINITY);
    this.announceDue(true);
  }

  remove(infoHash: string): void {
    this.torrents.delete(infoHash);
  }

  async stop(): Promise<void> {
    this.timer?.cancel();
    await this.socket?.close();
  }

  private announceDue(newTorrent = false): void {
    const now = this.runtime.clock.now();
    if (!newTorrent && now - this.lastSentAt < MIN_GAP_MS) return;
    const due = [...this.torrents].filter(([, at]) => now - at >= REANNOUNCE_MS).map(([h]) => h);
    if (due.length === 0) return;
    const batch = due.slice(0, 20); // 20 × 51 bytes stays well under 1400
    for (const h of batch) this.torrents.set(h, now);
    this.lastSentAt = now;
    const packet = encodeLsdAnnounce({
      port: this.listenPort(),
      infoHashes: batch,
      cookie: this.cookie,
    });
    try {
      this.socket?.send(packet, LSD_PORT, LSD_GROUP);
    } catch {
      // The egress policy refused the group: LSD stays quiet rather than failing the node.
    }
  }

  private onPacket(data: Buffer, from: UdpRemote): void {
    const a = decodeLsdAnnounce(data);
    if (!a || a.cookie === this.cookie) return;
    for (const h of a.infoHashes) if (this.torrents.has(h)) this.onPeer(h, from.address, a.port);
  }
}
