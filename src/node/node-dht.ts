import { join } from 'node:path';
import { Dht } from '../dht/dht.js';
import { ShoalError } from '../errors.js';
import { parsePeer } from '../metainfo/magnet.js';
import type { MetricsRegistry } from '../metrics/registry.js';
import type { DatagramChannel } from '../net/datagram-mux.js';
import type { Runtime } from '../runtime/runtime.js';
import type { NodeConfig } from './config.js';
import type { NodeStatus } from './peer-watch.js';

/** How the DHT's last (re)join went. */
export type DhtJoinStatus = Extract<NodeStatus, { kind: 'dht' }>;

/** What the node's DHT needs from its node. */
export interface NodeDhtDeps {
  readonly runtime: Runtime;
  readonly config: NodeConfig;
  readonly metrics: MetricsRegistry;
  /** A fixed node id (the simulator's BEP 42 ids), else the saved or a random one. */
  readonly id?: Buffer;
  readonly warning: (message: string) => void;
  readonly status: (status: DhtJoinStatus) => void;
}

/**
 * The node's DHT on its UDP socket, joined through the configured routers; joined again on
 * request (when alone), each join told as a status: nodes known, or why none (a router the
 * egress policy refused, no answer, none configured).
 */
export class NodeDht {
  /** Settles when the first join is over (with the nodes known). */
  readonly ready: Promise<number>;
  /** How the last join went, once one ended. */
  status: DhtJoinStatus | undefined;
  /** Why the current join reaches nobody, when a router was refused. */
  private problem: string | undefined;

  private constructor(
    readonly dht: Dht,
    private readonly deps: NodeDhtDeps,
  ) {
    dht.on('warning', (w) => {
      // A refused router is why a join reaches nobody: the status says so after the join.
      if (/EGRESS_DENIED|egress/i.test(w)) this.problem ??= w;
      deps.warning(`DHT: ${w}`);
    });
    this.ready = this.join();
  }

  /** Starts the DHT on `channel` and begins its first join. */
  static async start(deps: NodeDhtDeps, channel: DatagramChannel): Promise<NodeDht> {
    const bootstrap = deps.config.dhtBootstrap.map((text) => {
      try {
        return parsePeer(text);
      } catch {
        throw new ShoalError('CONFIG_INVALID', `DHT bootstrap node "${text}" is not HOST:PORT`);
      }
    });
    const options = {
      host: deps.config.host,
      bootstrap,
      statePath: join(deps.config.dataDir, 'dht.state'),
      metrics: deps.metrics,
      ...(deps.id && { id: deps.id }),
    };
    return new NodeDht(await Dht.start(deps.runtime, options, channel), deps);
  }

  /** Bootstraps the DHT and says how it went: nodes known, or why none. */
  async join(): Promise<number> {
    this.problem = undefined;
    const nodes = await this.dht.bootstrap().catch(() => 0);
    const routers = this.deps.config.dhtBootstrap.join(', ');
    this.status = {
      kind: 'dht',
      nodes,
      ...(nodes === 0 && {
        problem:
          this.problem ??
          (routers === '' ? 'no bootstrap node configured' : `no answer from ${routers}`),
      }),
    };
    this.deps.status(this.status);
    return nodes;
  }
}
