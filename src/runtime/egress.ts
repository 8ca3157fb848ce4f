import { BlockList, isIP } from 'node:net';
import { ShoalError } from '../errors.js';
import type { EgressCheck } from './runtime.js';

/** Refused because the egress policy does not allow contacting that address. */
export class EgressDeniedError extends ShoalError {
  constructor(host: string, port: number, what: string, mode: EgressMode) {
    super(
      'EGRESS_DENIED',
      `egress policy "${mode}" refuses ${what} to ${host}:${port}; only loopback and allowed ` +
        'test networks may be contacted (set SHOAL_EGRESS=open to lift this outside tests)',
    );
  }
}

/** `open`: any destination; `loopback`: 127.0.0.0/8, ::1 and explicitly allowed networks. */
export type EgressMode = 'open' | 'loopback';

/**
 * The runtime's guard against leaking traffic: tests and CI run with `SHOAL_EGRESS=loopback`,
 * under which every send or connect to anything but loopback (or a network the test created
 * and allowed, e.g. a namespace's addresses) throws instead of leaving the machine.
 */
export class EgressPolicy implements EgressCheck {
  readonly mode: EgressMode;
  private readonly allowed = new BlockList();
  private readonly verdicts = new Map<string, boolean>();

  constructor(mode: EgressMode, allowedCidrs: readonly string[] = []) {
    this.mode = mode;
    this.allowed.addSubnet('127.0.0.0', 8, 'ipv4');
    this.allowed.addAddress('::1', 'ipv6');
    this.allowed.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');
    for (const cidr of allowedCidrs) {
      const [net, bits] = cidr.split('/');
      const family = isIP(net ?? '');
      if (family === 0) throw new ShoalError('CONFIG_INVALID', `bad allowed network "${cidr}"`);
      const prefix = bits === undefined ? (family === 4 ? 32 : 128) : Number(bits);
      this.allowed.addSubnet(net!, prefix, family === 4 ? 'ipv4' : 'ipv6');
    }
  }

  /**
   * The policy the environment asks for: `SHOAL_EGRESS` (`open` or `loopback`, default `open`)
   * and `SHOAL_EGRESS_ALLOW` (comma-separated CIDRs allowed under `loopback`).
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): EgressPolicy {
    const raw = env.SHOAL_EGRESS ?? 'open';
    if (raw !== 'open' && raw !== 'loopback') {
      throw new ShoalError(
        'CONFIG_INVALID',
        `SHOAL_EGRESS must be "open" or "loopback", not "${raw}"`,
      );
    }
    const allow = (env.SHOAL_EGRESS_ALLOW ?? '').split(',').filter((s) => s.trim() !== '');
    return new EgressPolicy(
      raw,
      allow.map((s) => s.trim()),
    );
  }

  /** True when `host` may be contacted under this policy. */
  isAllowed(host: string): boolean {
    if (this.mode === 'open') return true;
    // Servers answer the same addresses over and over: remember recent verdicts.
    const cached = this.verdicts.get(host);
    if (cached !== undefined) return cached;
    const verdict = this.decide(host);
    if (this.verdicts.size >= 4096) this.verdicts.clear();
    this.verdicts.set(host, verdict);
    return verdict;
  }

  private decide(host: string): boolean {
    if (host === 'localhost') return true;
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    const family = isIP(bare);
    if (family === 0) return false; // a name we would have to resolve: refuse, it may be public
    return this.allowed.check(bare, family === 4 ? 'ipv4' : 'ipv6');
  }

  assertAllowed(host: string, port: number, what: string): void {
    if (!this.isAllowed(host)) throw new EgressDeniedError(host, port, what, this.mode);
  }
}
