import { Identity } from '../../src/crypto/identity.js';
import { contactOf, type PeerContact } from '../../src/overlay/contact.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';
import type { SimHost } from '../../src/sim/host.js';
import { MessageNetwork, type MessageNetworkOptions } from '../../src/sim/message-network.js';
import { Network } from '../../src/sim/network.js';
import { SIM_EPOCH_MS, Simulator } from '../../src/sim/simulator.js';

/** Identities made once for all overlay tests (key generation is the slow part). */
const identities: Identity[] = [];
const random = new SeededRandom(4242);

/** The `i`-th test identity. */
export function identity(i: number): Identity {
  while (identities.length <= i) identities.push(Identity.generate(random));
  return identities[i]!;
}

/** The contact of the `i`-th test identity, with a made-up address. */
export function contact(i: number, flags = 0): PeerContact {
  return contactOf(
    identity(i).publicKey,
    [{ host: `10.0.${i >> 8}.${i & 255}`, port: 7000 }],
    flags,
  );
}

/** A simulated world of message-level links: a simulator, hosts for latency, the network. */
export interface World {
  readonly sim: Simulator;
  readonly hosts: SimHost[];
  readonly net: MessageNetwork;
  /** Clock, timers and randomness for node `i`, owned by its host. */
  env(i: number): {
    clock: { now(): number; wallTime(): number };
    timers: {
      setTimeout(fn: () => void, ms: number): { cancel(): void };
      setInterval(fn: () => void, ms: number): { cancel(): void };
    };
    random: SeededRandom;
  };
}

/** Builds a world of `n` hosts (not yet nodes: call `net.addNode` in host order). */
export function world(
  n: number,
  seed: number,
  options: Partial<MessageNetworkOptions> = {},
): World {
  const sim = new Simulator(seed);
  const network = new Network(sim);
  const hosts = Array.from({ length: n }, () => network.addHost());
  const net = new MessageNetwork(
    {
      now: () => sim.now,
      after: (ms, fn, node) => {
        sim.after(ms, fn, node === undefined ? undefined : hosts[node]);
      },
    },
    {
      oneWayMs: (a, b) => network.oneWayMs(hosts[a]!, hosts[b]!),
      connectTimeoutMs: 3000,
      detectMs: () => 5000 + sim.random.float() * 5000,
      maxIdleLinks: 16,
      banMs: 3_600_000,
      ...options,
    },
  );
  return {
    sim,
    hosts,
    net,
    env: (i) => ({
      clock: { now: () => sim.now, wallTime: () => SIM_EPOCH_MS + sim.now },
      timers: {
        setTimeout: (fn, ms) => sim.after(Math.max(1, ms), fn, hosts[i]),
        setInterval: (fn, ms) => sim.every(ms, fn, hosts[i]),
      },
      random: sim.random,
    }),
  };
}

/** The sizes of the connected components of an undirected graph given as adjacency lists. */
export function componentSizes(
  nodes: readonly string[],
  edges: (id: string) => string[],
): number[] {
  const alive = new Set(nodes);
  const seen = new Set<string>();
  const sizes: number[] = [];
  for (const start of nodes) {
    if (seen.has(start)) continue;
    let size = 0;
    const stack = [start];
    seen.add(start);
    while (stack.length > 0) {
      const at = stack.pop()!;
      size++;
      for (const next of edges(at)) {
        if (alive.has(next) && !seen.has(next)) {
          seen.add(next);
          stack.push(next);
        }
      }
    }
    sizes.push(size);
  }
  return sizes.sort((a, b) => b - a);
}
