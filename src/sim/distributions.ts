/**
 * Random variates for the network and churn models, drawn from the simulator's one seeded
 * generator (anything with `float()`), plus a stateless hash for per-pair quantities that must
 * be the same every time they are asked for without being stored.
 */

/** The one thing the samplers need from a generator. */
export interface UniformSource {
  float(): number;
}

/** A standard normal variate (Box–Muller). */
export function normal(r: UniformSource): number {
  const u = 1 - r.float(); // (0, 1]
  const v = r.float();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** An exponential variate with the given mean. */
export function exponential(r: UniformSource, mean: number): number {
  return -Math.log(1 - r.float()) * mean;
}

/** A log-normal variate with the given median and shape σ. */
export function logNormal(r: UniformSource, median: number, sigma: number): number {
  return median * Math.exp(sigma * normal(r));
}

/** Weibull(shape k, scale λ). */
export function weibull(r: UniformSource, shape: number, scale: number): number {
  return scale * (-Math.log(1 - r.float())) ** (1 / shape);
}

/** The Weibull scale giving median `median` for shape `shape`. */
export function weibullScaleForMedian(median: number, shape: number): number {
  return median / Math.LN2 ** (1 / shape);
}

/** Gamma(shape, 1) (Marsaglia–Tsang, with the boost for shape < 1). */
export function gamma(r: UniformSource, shape: number): number {
  if (shape < 1) return gamma(r, shape + 1) * r.float() ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(r);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = r.float();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v)))
      return d * v;
  }
}

/**
 * Remaining session time of a node found online in a steady-state population whose sessions
 * are Weibull(shape, scale): a length-biased session (scale·G^(1/k), G ~ Gamma(1 + 1/k)) of
 * which a uniform fraction is left. Starting the initial population this way avoids the burst
 * of early departures that fresh sessions would cause.
 */
export function weibullResidual(r: UniformSource, shape: number, scale: number): number {
  const length = scale * gamma(r, 1 + 1 / shape) ** (1 / shape);
  return r.float() * length;
}

/** Mean of Weibull(shape, scale). */
export function weibullMean(shape: number, scale: number): number {
  return scale * gammaFunction(1 + 1 / shape);
}

/** Γ(x) for x > 0 (Lanczos approximation). */
export function gammaFunction(x: number): number {
  if (x < 0.5) return Math.PI / (Math.sin(Math.PI * x) * gammaFunction(1 - x));
  const g = 7;
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  const y = x - 1;
  let a = c[0]!;
  const t = y + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += c[i]! / (y + i);
  return Math.sqrt(2 * Math.PI) * t ** (y + 0.5) * Math.exp(-t) * a;
}

/** A 32-bit mix of integers (murmur3's finaliser over a combination), for per-pair values. */
export function hash32(a: number, b: number, c: number): number {
  let h = (Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b, 0xc2b2ae35) ^ c) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h ^ b, 0x27d4eb2d);
  h ^= h >>> 15;
  return h >>> 0;
}

/** A standard normal value determined by three integers (no generator state used). */
export function hashedNormal(a: number, b: number, c: number): number {
  const u = (hash32(a, b, c) + 1) / 4294967297;
  const v = hash32(b, a, c ^ 0x5bd1e995) / 4294967296;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
