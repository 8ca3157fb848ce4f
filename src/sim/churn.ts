import {
  exponential,
  type UniformSource,
  weibull,
  weibullMean,
  weibullResidual,
  weibullScaleForMedian,
} from './distributions.js';

/** How long nodes stay: Weibull session lengths (shape < 1: many short, a few very long). */
export interface ChurnOptions {
  readonly medianSessionMs: number;
  /**
   * Weibull shape; measurements of BitTorrent, Kad and Gnutella (Stutzbach & Rejaie, IMC 2006)
   * found 0.34–0.59. Default 0.5.
   */
  readonly shape: number;
}

/**
 * Session lengths and arrivals for a population kept near a target size: nodes present at the
 * start get the remaining time of a session in progress (steady state), newcomers a fresh
 * Weibull session, and arrivals are Poisson at population / mean session.
 */
export class ChurnModel {
  readonly scaleMs: number;
  readonly meanSessionMs: number;

  constructor(
    private readonly random: UniformSource,
    readonly options: ChurnOptions,
  ) {
    this.scaleMs = weibullScaleForMedian(options.medianSessionMs, options.shape);
    this.meanSessionMs = weibullMean(options.shape, this.scaleMs);
  }

  /** Time left for a node already online when observation starts. */
  residualSessionMs(): number {
    return weibullResidual(this.random, this.options.shape, this.scaleMs);
  }

  /** Length of a newcomer's session. */
  freshSessionMs(): number {
    return weibull(this.random, this.options.shape, this.scaleMs);
  }

  /** Time to the next arrival for a population of `population` nodes in steady state. */
  nextArrivalMs(population: number): number {
    return exponential(this.random, this.meanSessionMs / Math.max(1, population));
  }
}
