import { InlineHasher } from '../../crypto/inline-hasher.js';
import { nodeIdForIp } from '../../dht/node-id.js';
import { defaultConfig, type NodeConfig } from '../../node/config.js';
import { Node } from '../../node/node.js';
import type { ConnectionKind } from '../../peers/peer-connection.js';
import { SimError } from '../errors.js';
import type { SimHost } from '../host.js';
import { PageStore } from '../memfs.js';
import { liveHeapBytes } from '../memory.js';
import { NAT_TYPES, type NatType } from '../nat.js';
import { Network } from '../network.js';
import type { Figure, ScenarioDefinition, ScenarioOutcome } from '../scenario.js';
import { createSimRuntime } from '../sim-runtime.js';
import { EventKind, Simulator } from '../simulator.js';
import { percentiles, round } from '../stats.js';

/** Options of the `connect` scenario, with defaults in {@link DEFAULT_CONNECT_SCENARIO}. */
export interface ConnectScenarioOptions {
  readonly seed: number;
  /** Public nodes that are the DHT's bootstrap nodes (and so everyone's first rendezvous). */
  readonly relays: number;
  /** Nodes of each kind: public, and behind each NAT type. */
  readonly perType: number;
  /** Connection attempts for each ordered pair of kinds. */
  readonly attemptsPerPair: number;
  /** Seconds for everyone to join the DHT and publish before the first attempt. */
  readonly warmupSeconds: number;
  readonly loss: number;
  /**
   * Symmetric NATs pick new ports at random rather than in sequence: nothing to predict, so a
   * TCP punch cannot get through them and their pairs are relayed.
   */
  readonly randomPorts: boolean;
}

/** Defaults: 3 relays, 6 nodes of each of the 5 kinds, 4 attempts per ordered pair (100). */
export const DEFAULT_CONNECT_SCENARIO: ConnectScenarioOptions = {
  seed: 1,
  relays: 3,
  perType: 6,
  attemptsPerPair: 4,
  warmupSeconds: 120,
  loss: 0.005,
  randomPorts: false,
};

/** A node's network situation. */
type Situation = 'public' | NatType;
const SITUATIONS: readonly Situation[] = ['public', ...NAT_TYPES];

const PORT = 6881;
/** Attempts start this far apart, so they do not all share one instant. */
const SPACING_MS = 1_000;
const ATTEMPT_TIMEOUT_MS = 30_000;

function nodeConfig(bootstrap: readonly string[]): NodeConfig {
  return {
    ...defaultConfig({}),
    dataDir: '/var/lib/shoal',
    downloadDir: '/downloads',
    port: PORT,
    host: '0.0.0.0',
    dht: true,
    dhtBootstrap: [...bootstrap],
    lsd: false,
    pex: false,
    hashWorkers: 1,
    overlay: false,
  };
}

interface Member {
  readonly node: Node;
  readonly host: SimHost;
  readonly situation: Situation;
}

interface Attempt {
  readonly from: Situation;
  readonly to: Situation;
  /** Round-trip time between the two hosts (the cost of one exchange between them), ms. */
  readonly rttMs: number;
  lookupMs?: number;
  connectMs?: number;
  kind?: ConnectionKind;
  error?: string;
}

/**
 * `connect`: shoal nodes behind every kind of NAT (and none) find each other by key alone and
 * connect — directly, by a TCP hole punch or a dial back through a rendezvous, or relayed.
 * Reports the success rate and the kinds for each ordered pair of situations, the time to find
 * a key in the DHT, and the time to connect once found, in round trips between the pair (a
 * direct dial is two: TCP's and the handshake's).
 */
export async function connectScenario(
  options: Partial<ConnectScenarioOptions> = {},
): Promise<ScenarioOutcome> {
  const o: ConnectScenarioOptions = { ...DEFAULT_CONNECT_SCENARIO, ...options };
  if (!(o.relays >= 1) || !(o.perType >= 2) || !(o.attemptsPerPair >= 1))
    throw new SimError('SIM_OPTIONS', 'connect needs relays ≥ 1, per-type ≥ 2, attempts ≥ 1');
  const heapBefore = liveHeapBytes();
  const sim = new Simulator(o.seed);
  const net = new Network(sim, { udpLoss: o.loss });
  const pages = new PageStore();
  const hasher = new InlineHasher();
  // DHT ids follow BEP 42 for each host's public address (its NAT's, behind one), as the
  // dht scenario's do: routing tables refuse other ids from public addresses.
  const start = (host: SimHost, bootstrap: readonly string[]) =>
    Node.start(createSimRuntime(net, host, pages), nodeConfig(bootstrap), {
      hasher,
      dhtId: nodeIdForIp(host.publicIp, sim.random),
    });

  // Everyone starts from an event (the simulation then has something to run): the relays at
  // once, the others over the first 10 seconds.
  const relayHosts = Array.from({ length: o.relays }, () => net.addHost());
  const bootstrap = relayHosts.map((h) => `${h.publicIp}:${PORT}`);
  let relays = 0;
  for (const host of relayHosts) {
    sim.at(
      sim.now,
      () => void start(host, bootstrap.slice(0, 1)).then(() => relays++),
      undefined,
      EventKind.scenario,
    );
  }
  const members: Member[] = [];
  for (const situation of SITUATIONS) {
    for (let i = 0; i < o.perType; i++) {
      const host = net.addHost(
        situation === 'public'
          ? {}
          : { nat: situation, natPorts: o.randomPorts ? 'random' : 'sequential' },
      );
      sim.at(
        sim.now + 1000 + sim.random.float() * 10_000,
        () => void start(host, bootstrap).then((node) => members.push({ node, host, situation })),
        undefined,
        EventKind.scenario,
      );
    }
  }
  await sim.run(sim.now + o.warmupSeconds * 1000);
  const heapBytes = Math.max(0, liveHeapBytes() - heapBefore);

  const attempts: Attempt[] = [];
  const used = new Set<string>();
  let next = sim.now;
  for (const from of SITUATIONS) {
    for (const to of SITUATIONS) {
      for (let k = 0; k < o.attemptsPerPair; k++) {
        const pair = pickPair(sim, members, from, to, used);
        if (pair === undefined) continue;
        const [a, b] = pair;
        const attempt: Attempt = { from, to, rttMs: 2 * net.oneWayMs(a.host, b.host) };
        attempts.push(attempt);
        sim.at(next, () => void runAttempt(sim, a, b, attempt), undefined, EventKind.scenario);
        next += SPACING_MS;
      }
    }
  }
  const done = () => attempts.every((x) => x.kind !== undefined || x.error !== undefined);
  await sim.run(next + ATTEMPT_TIMEOUT_MS + 10_000, done);
  return outcome(o, sim, attempts, members.length + relays, heapBytes);
}

/** Two members of the given situations not paired before (either way round). */
function pickPair(
  sim: Simulator,
  members: readonly Member[],
  from: Situation,
  to: Situation,
  used: Set<string>,
): [Member, Member] | undefined {
  const as = members.filter((m) => m.situation === from);
  const bs = members.filter((m) => m.situation === to);
  for (let tries = 0; tries < 50; tries++) {
    const a = as[sim.random.int(as.length)];
    const b = bs[sim.random.int(bs.length)];
    if (a === undefined || b === undefined || a === b) continue;
    const ids = [a.host.index, b.host.index].sort((x, y) => x - y).join('-');
    if (used.has(ids)) continue;
    used.add(ids);
    return [a, b];
  }
  return undefined;
}

/** Finds `b`'s record in the DHT from `a`, then connects to it; fills in `attempt`. */
async function runAttempt(sim: Simulator, a: Member, b: Member, attempt: Attempt): Promise<void> {
  const began = sim.now;
  try {
    const record = await a.node.peers.lookup(b.node.key);
    attempt.lookupMs = sim.now - began;
    const connecting = sim.now;
    const peer = await a.node.connect(b.node.key, {
      timeoutMs: ATTEMPT_TIMEOUT_MS,
      ...(record !== undefined && { record }),
    });
    attempt.connectMs = sim.now - connecting;
    attempt.kind = peer.kind;
  } catch (error) {
    attempt.error = (error as Error).message;
  }
}

function outcome(
  o: ConnectScenarioOptions,
  sim: Simulator,
  attempts: readonly Attempt[],
  nodes: number,
  heapBytes: number,
): ScenarioOutcome {
  const ok = attempts.filter((x) => x.kind !== undefined);
  const notBothSymmetric = attempts.filter(
    (x) => !(x.from === 'symmetric' && x.to === 'symmetric'),
  );
  const directNotSym = notBothSymmetric.filter((x) => x.kind === 'direct' || x.kind === 'punched');
  // Symmetric NATs that pick ports at random cannot be punched over TCP: the target is then
  // for the pairs without one.
  const noSymmetric = attempts.filter((x) => x.from !== 'symmetric' && x.to !== 'symmetric');
  const directNoSym = noSymmetric.filter((x) => x.kind === 'direct' || x.kind === 'punched');
  const share = (kind: ConnectionKind) => ok.filter((x) => x.kind === kind).length / ok.length;
  const extraRtts = ok.map((x) => x.connectMs! / x.rttMs - 2);
  const extra = percentiles(extraRtts);
  const connectMs = percentiles(ok.map((x) => x.connectMs!));
  const lookupMs = percentiles(
    attempts.filter((x) => x.lookupMs !== undefined).map((x) => x.lookupMs!),
  );
  const figures: Record<string, Figure> = {
    attempts: attempts.length,
    connected: ok.length,
    successRate: round(ok.length / attempts.length, 3),
    directShare: round(share('direct'), 3),
    punchedShare: round(share('punched'), 3),
    relayedShare: round(share('relayed'), 3),
    directOrPunchedUnlessBothSymmetric: round(directNotSym.length / notBothSymmetric.length, 3),
    directOrPunchedWithoutSymmetric: round(directNoSym.length / noSymmetric.length, 3),
    lookupMsP50: round(lookupMs.p50, 0),
    connectMsP50: round(connectMs.p50, 0),
    connectMsP90: round(connectMs.p90, 0),
    extraRttsOverDirectDialP50: round(extra.p50, 2),
    extraRttsOverDirectDialP90: round(extra.p90, 2),
    simulatedSeconds: round(sim.now / 1000, 1),
  };
  for (const kind of ['direct', 'punched', 'relayed'] as const) {
    const of = ok.filter((x) => x.kind === kind);
    figures[`${kind}ConnectMsP50`] = round(percentiles(of.map((x) => x.connectMs!)).p50, 0);
    figures[`${kind}ExtraRttsP50`] = round(
      percentiles(of.map((x) => x.connectMs! / x.rttMs - 2)).p50,
      2,
    );
  }
  const table: string[] = [
    `${'from \\ to'.padEnd(16)}${SITUATIONS.map((s) => s.padEnd(18)).join('')}`,
  ];
  for (const from of SITUATIONS) {
    let line = from.padEnd(16);
    for (const to of SITUATIONS) {
      const cell = attempts.filter((x) => x.from === from && x.to === to);
      const good = cell.filter((x) => x.kind !== undefined);
      const letters = good.map((x) => x.kind![0]).join('');
      line += `${good.length}/${cell.length} ${letters}`.padEnd(18);
      figures[`pair.${from}.${to}`] = `${good.length}/${cell.length} ${letters}`;
    }
    table.push(line);
  }
  const failures: string[] = [];
  if (ok.length < attempts.length) {
    failures.push(`${attempts.length - ok.length} of ${attempts.length} attempts failed`);
    for (const x of attempts.filter((y) => y.error !== undefined).slice(0, 3))
      failures.push(`  ${x.from} → ${x.to}: ${x.error}`);
  }
  if (
    o.randomPorts
      ? directNoSym.length / noSymmetric.length < 0.95
      : directNotSym.length / notBothSymmetric.length < 0.95
  )
    failures.push(
      o.randomPorts
        ? `direct or punched ${figures.directOrPunchedWithoutSymmetric} of pairs without a symmetric NAT (target ≥ 0.95)`
        : `direct or punched ${figures.directOrPunchedUnlessBothSymmetric} of pairs not both symmetric (target ≥ 0.95)`,
    );
  if (!(extra.p50 <= 2))
    failures.push(
      `median time to connect ${figures.extraRttsOverDirectDialP50} RTTs over a direct dial (target ≤ 2)`,
    );
  const summary = [
    `${attempts.length} attempts between ${nodes} nodes (${o.relays} relays, ${o.perType} of each kind); ${ok.length} connected: ${(share('direct') * 100).toFixed(0)} % direct, ${(share('punched') * 100).toFixed(0)} % punched, ${(share('relayed') * 100).toFixed(0)} % relayed`,
    `direct or punched for ${(Number(figures.directOrPunchedUnlessBothSymmetric) * 100).toFixed(1)} % of pairs not both symmetric, ${(Number(figures.directOrPunchedWithoutSymmetric) * 100).toFixed(1)} % of pairs without a symmetric NAT${o.randomPorts ? ' (symmetric NATs pick random ports)' : ''}`,
    `lookup ${figures.lookupMsP50} ms (median); connect ${figures.connectMsP50} ms median, ${figures.connectMsP90} ms p90: ${figures.extraRttsOverDirectDialP50} round trips more than a direct dial (median)`,
    'successes/attempts by situation (d direct, p punched, r relayed):',
    ...table,
  ];
  const cdf = (points: number[]) =>
    points.sort((x, y) => x - y).map((v, i) => [v, (i + 1) / points.length] as [number, number]);
  return {
    sim,
    figures,
    charts: [
      {
        title: 'Time to connect once the record is found',
        xLabel: 'round trips between the pair beyond a direct dial',
        yLabel: 'share of connections',
        yMax: 1,
        series: (['direct', 'punched', 'relayed'] as const).map((kind) => ({
          name: kind,
          step: true,
          points: cdf(ok.filter((x) => x.kind === kind).map((x) => x.connectMs! / x.rttMs - 2)),
        })),
        markers: [{ label: 'target: 2', value: 2, axis: 'x', color: '#d62728' }],
      },
    ],
    summary,
    ok: failures.length === 0,
    failures,
    nodes,
    heapBytes,
  };
}

/** The `connect` scenario for the command line. */
export const connectDefinition: ScenarioDefinition = {
  name: 'connect',
  description:
    'nodes behind every NAT type find each other by key and connect: direct, punched or relayed',
  options: [
    { name: 'relays', flag: 'relays', kind: 'int', description: 'public relay nodes (default 3)' },
    {
      name: 'perType',
      flag: 'per-type',
      kind: 'int',
      description: 'nodes per situation: public and each NAT type (default 6)',
    },
    {
      name: 'attemptsPerPair',
      flag: 'attempts-per-pair',
      kind: 'int',
      description: 'attempts per ordered pair of situations (default 4)',
    },
    {
      name: 'warmupSeconds',
      flag: 'warmup-seconds',
      kind: 'number',
      description: 'time to join and publish before connecting (default 120)',
    },
    {
      name: 'loss',
      flag: 'loss',
      kind: 'number',
      description: 'datagram loss, 0–1 (default 0.005)',
    },
    {
      name: 'randomPorts',
      flag: 'random-ports',
      kind: 'boolean',
      description: 'symmetric NATs pick ports at random (default: in sequence)',
    },
  ],
  run: (options) => connectScenario(options as Partial<ConnectScenarioOptions>),
};
