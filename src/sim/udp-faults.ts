import type { UniformSource } from './distributions.js';

/** How often datagrams are held back (reordered) or delivered twice, and by how much. */
export interface UdpFaultOptions {
  /** Share of datagrams delayed past later ones. */
  readonly reorderShare: number;
  /** A reordered datagram arrives up to this many milliseconds late (uniformly). */
  readonly reorderDelayMs: number;
  /** Share of datagrams delivered twice. */
  readonly duplicateShare: number;
  /** The second copy of a duplicated datagram arrives up to this many milliseconds later. */
  readonly duplicateDelayMs: number;
}

/**
 * Datagram misbehaviour beyond loss, for testing transports over UDP: the network model
 * delivers each host's datagrams in the order sent, and exactly once; a link rule set on the
 * `Network` (its `udpFaults`) can delay some past later ones and deliver some twice. Draws from
 * the simulator's generator, so runs still replay exactly.
 */
export class UdpFaults {
  readonly options: UdpFaultOptions;

  constructor(options: Partial<UdpFaultOptions>) {
    this.options = {
      reorderShare: 0,
      reorderDelayMs: 20,
      duplicateShare: 0,
      duplicateDelayMs: 10,
      ...options,
    };
  }

  /**
   * The extra delays (ms) of the copies of one datagram: one entry normally, two when it is
   * duplicated. A reordered datagram's copies are all late.
   */
  copies(r: UniformSource): number[] {
    const o = this.options;
    const late =
      o.reorderShare > 0 && r.float() < o.reorderShare ? r.float() * o.reorderDelayMs : 0;
    if (o.duplicateShare > 0 && r.float() < o.duplicateShare)
      return [late, late + r.float() * o.duplicateDelayMs];
    return [late];
  }
}
