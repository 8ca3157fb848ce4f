import { hashedNormal, logNormal, type UniformSource } from './distributions.js';

/** Where a host sits, as far as latency is concerned. */
export interface Location {
  /** Index into {@link REGIONS}. */
  readonly region: number;
  /** One-way delay of the host's access link ("last mile"), milliseconds. */
  readonly accessMs: number;
}

/** World regions with the share of hosts in each (roughly BitTorrent's user distribution). */
export const REGIONS = [
  { name: 'north-america', weight: 0.22 },
  { name: 'europe', weight: 0.32 },
  { name: 'asia', weight: 0.3 },
  { name: 'south-america', weight: 0.08 },
  { name: 'oceania', weight: 0.04 },
  { name: 'africa', weight: 0.04 },
] as const;

/**
 * One-way backbone delay between regions in milliseconds (symmetric; the diagonal is the
 * typical delay between two hosts of the same region), from public inter-continental RTT
 * tables halved.
 */
const BACKBONE_MS: readonly (readonly number[])[] = [
  [18, 45, 85, 60, 80, 110],
  [45, 12, 95, 100, 140, 60],
  [85, 95, 30, 150, 55, 120],
  [60, 100, 150, 20, 150, 170],
  [80, 140, 55, 150, 12, 180],
  [110, 60, 120, 170, 180, 30],
];

/** Settings of the latency model; the defaults give a median RTT near 80 ms and a long tail. */
export interface LatencyOptions {
  /** Multiplies every backbone delay (to move the median). */
  readonly backboneScale: number;
  /** σ of the log-normal per-pair variation of the backbone delay (route inflation). */
  readonly pairSigma: number;
  /** Median and σ of the log-normal access-link delay. */
  readonly accessMedianMs: number;
  readonly accessSigma: number;
  /** Share of hosts behind slow access (mobile, satellite, congested) and their extra delay. */
  readonly slowAccessShare: number;
  readonly slowAccessMedianMs: number;
  /** Per-packet jitter: exponential with this share of the path's delay as its mean. */
  readonly jitterShare: number;
}

/** Defaults for {@link LatencyOptions}. */
export const DEFAULT_LATENCY: LatencyOptions = {
  backboneScale: 0.4, // calibrated: median RTT ≈ 80 ms, p99 ≈ 360 ms over random pairs
  pairSigma: 0.3,
  accessMedianMs: 4,
  accessSigma: 0.8,
  slowAccessShare: 0.04,
  slowAccessMedianMs: 70,
  jitterShare: 0.03,
};

/**
 * Per-pair latency without a per-pair table: a host has a region and an access delay; the
 * delay between two hosts is backbone(region, region) · a per-pair log-normal factor (derived by
 * hashing the pair, so it is stable and costs no memory) + both access delays. Jitter is drawn
 * per packet from the simulator's generator.
 */
export class LatencyModel {
  readonly options: LatencyOptions;
  private readonly cumulative: number[];
  /**
   * Each placed host's region and access delay by host index. Every datagram reads them for a
   * random destination: in flat arrays they stay in the CPU cache, where a 100,000-host
   * simulation's host objects (and their boxed delays) are cache misses.
   */
  private regionOf = new Uint8Array(1024);
  private accessOf = new Float64Array(1024);

  constructor(
    private readonly salt: number,
    options: Partial<LatencyOptions> = {},
  ) {
    this.options = { ...DEFAULT_LATENCY, ...options };
    let sum = 0;
    this.cumulative = REGIONS.map((r) => (sum += r.weight));
  }

  /** Draws a location for a new host, numbered `index` in {@link oneWay}. */
  place(r: UniformSource, index: number, region?: number): Location {
    const o = this.options;
    let chosen = region;
    if (chosen === undefined) {
      const x = r.float() * this.cumulative.at(-1)!;
      chosen = this.cumulative.findIndex((c) => x < c);
    }
    let accessMs = logNormal(r, o.accessMedianMs, o.accessSigma);
    if (r.float() < o.slowAccessShare) accessMs += logNormal(r, o.slowAccessMedianMs, 0.5);
    if (index >= this.regionOf.length) {
      const size = Math.max(index + 1, this.regionOf.length * 2);
      const regions = new Uint8Array(size);
      regions.set(this.regionOf);
      this.regionOf = regions;
      const access = new Float64Array(size);
      access.set(this.accessOf);
      this.accessOf = access;
    }
    this.regionOf[index] = chosen;
    this.accessOf[index] = accessMs;
    return { region: chosen, accessMs };
  }

  /** One-way delay in milliseconds between the hosts placed as `a` and `b`. */
  oneWay(a: number, b: number): number {
    if (a === b) return 0.05;
    const o = this.options;
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    const factor = Math.exp(o.pairSigma * hashedNormal(lo, hi, this.salt));
    const backbone = BACKBONE_MS[this.regionOf[a]!]![this.regionOf[b]!]!;
    return backbone * o.backboneScale * factor + this.accessOf[a]! + this.accessOf[b]!;
  }

  /** Extra delay of one packet on a path whose delay is `pathMs`. */
  jitter(r: UniformSource, pathMs: number): number {
    const mean = this.options.jitterShare * pathMs;
    return mean > 0 ? -Math.log(1 - r.float()) * mean : 0;
  }
}
