/** Network namespaces made by a test (for clients that cannot be kept on loopback). */
import { spawnSync } from 'node:child_process';
import { defer, requireTool, run, type TestContext } from './harness.js';

// ---------------------------------------------------------------- network namespaces

/** A network namespace made by a test, with its own loopback addresses. */
export interface Netns {
  readonly name: string;
  /** The addresses on its loopback device (a /32 each). */
  readonly addresses: readonly string[];
  /** Network that covers them, for `SHOAL_EGRESS_ALLOW`. */
  readonly cidr: string;
}

let netnsCounter = 0;

/** {@link requireTool} probe: can this machine make network namespaces (root, iproute2)? */
export function netnsProbe(): string | undefined {
  const name = `shoal-probe-${process.pid}`;
  const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8', timeout: 10_000 });
  if (add.error) return `ip: ${add.error.message}`;
  if (add.status !== 0) return `ip netns add exited with ${add.status}: ${add.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', name], { timeout: 10_000 });
  return undefined;
}

/**
 * Makes a network namespace for test `t` with loopback up and `10.201.0.1` … `10.201.0.<count>`
 * on it, deleted when the test ends (after the processes started later are stopped). Traffic
 * to those addresses never leaves the namespace.
 */
export async function createNetns(t: TestContext, prefix: string, count = 2): Promise<Netns> {
  const name = `${prefix}-${process.pid}-${++netnsCounter}`;
  const ip = async (...args: string[]) => {
    const r = await run('ip', args);
    if (r.code !== 0) throw new Error(`ip ${args.join(' ')} exited with ${r.code}: ${r.stderr}`);
  };
  await ip('netns', 'add', name);
  defer(t, () => run('ip', ['netns', 'del', name]));
  await ip('-n', name, 'link', 'set', 'lo', 'up');
  const addresses: string[] = [];
  for (let i = 1; i <= count; i++) {
    addresses.push(`10.201.0.${i}`);
    await ip('-n', name, 'addr', 'add', `10.201.0.${i}/32`, 'dev', 'lo');
  }
  return { name, addresses, cidr: '10.201.0.0/16' };
}
