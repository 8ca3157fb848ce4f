import type { FileSystem } from '../../runtime/runtime.js';

/** Linux's IPv4 routing table, for the process's own network namespace. */
export const PROC_NET_ROUTE = '/proc/net/route';

const RTF_UP = 0x1;
const RTF_GATEWAY = 0x2;
/** More routes than any host has; the rest of a longer file is not read. */
const MAX_ROUTES = 4096;

/**
 * The default gateway in the text of `/proc/net/route` (NAT-PMP talks to it): the up,
 * gatewayed route to 0.0.0.0/0 of lowest metric, or undefined. Addresses are little-endian hex.
 */
export function parseDefaultGateway(text: string): string | undefined {
  let best: { gateway: string; metric: number } | undefined;
  const lines = text.split('\n', MAX_ROUTES + 1);
  for (const line of lines.slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [, destination, gateway, flagsHex, , , metricText, mask] = f as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const flags = Number.parseInt(flagsHex, 16);
    const metric = Number(metricText);
    if (destination !== '00000000' || mask !== '00000000') continue;
    if (!/^[0-9A-Fa-f]{8}$/.test(gateway) || gateway === '00000000') continue;
    if ((flags & (RTF_UP | RTF_GATEWAY)) !== (RTF_UP | RTF_GATEWAY)) continue;
    if (!Number.isInteger(metric) || (best && best.metric <= metric)) continue;
    const n = Number.parseInt(gateway, 16);
    best = {
      gateway: `${n & 0xff}.${(n >>> 8) & 0xff}.${(n >>> 16) & 0xff}.${n >>> 24}`,
      metric,
    };
  }
  return best?.gateway;
}

/** The default gateway of this host, or undefined where there is no `/proc/net/route`. */
export async function findDefaultGateway(fs: FileSystem): Promise<string | undefined> {
  try {
    return parseDefaultGateway((await fs.readFile(PROC_NET_ROUTE)).toString('latin1'));
  } catch {
    return undefined;
  }
}
