import { defaultConfig, type NodeConfig } from '../../node/config.js';
import type { Simulator } from '../simulator.js';

/** The UDP tracker port of the scenarios' tracker host. */
export const TRACKER_PORT = 6969;

/** The config of every simulated BitTorrent node: port 6881, no DHT, LSD or overlay, PEX on. */
export function simNodeConfig(): NodeConfig {
  return {
    ...defaultConfig({}),
    dataDir: '/var/lib/shoal',
    downloadDir: '/downloads',
    port: 6881,
    host: '0.0.0.0',
    dht: false,
    dhtBootstrap: [],
    lsd: false,
    pex: true,
    hashWorkers: 1,
    overlay: false,
  };
}

/** Random file content from the simulation's generator (4 bytes per draw). */
export function randomContent(sim: Simulator, size: number): Buffer {
  const out = Buffer.allocUnsafe(Math.ceil(size / 4) * 4);
  const words = new Uint32Array(out.buffer, out.byteOffset, out.length / 4);
  for (let i = 0; i < words.length; i++) words[i] = sim.random.next();
  return out.subarray(0, size);
}

/**
 * Bytes per second of a rate in kbit/s (1000 bits): every `--…-kbps` flag of `shoal sim` is in
 * kilobits, as network capacities and media bitrates are usually given.
 */
export function kbpsToBytes(kbps: number): number {
  return (kbps * 1000) / 8;
}
