import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionManager } from '../../src/net/connection-manager.js';
import { InboundDemux } from '../../src/net/inbound-demux.js';
import { TcpTransport } from '../../src/net/transport.js';
import {
  portProbeInbound,
  predictPorts,
  probeExternalEndpoint,
} from '../../src/peers/port-probe.js';
import { PageStore } from '../../src/sim/memfs.js';
import type { PortAllocation } from '../../src/sim/nat.js';
import { Network } from '../../src/sim/network.js';
import { createSimRuntime } from '../../src/sim/sim-runtime.js';
import { Simulator } from '../../src/sim/simulator.js';

// Port prediction for TCP punching through a symmetric NAT, over the simulator's NATs: two
// probes of a public node show which ports the NAT mapped them to; a NAT that maps in
// sequence then maps the next connection, to anyone, to the port predicted.

test('predictPorts: the run after two ports a step or two apart, nothing otherwise', () => {
  assert.deepEqual(predictPorts([20_001, 20_002], 4), { first: 20_003, count: 4 });
  assert.deepEqual(predictPorts([20_002, 20_001], 4), { first: 20_003, count: 4 });
  assert.deepEqual(predictPorts([20_001, 20_003], 2), { first: 20_004, count: 2 });
  assert.equal(predictPorts([20_001, 20_001], 4), undefined, 'one port twice: no sequence');
  assert.equal(predictPorts([20_001, 31_877], 4), undefined, 'far apart: random');
  assert.equal(predictPorts([65_533, 65_534], 4), undefined, 'the run would leave the range');
});

/** A public node answering probes, a public peer, and a host behind a symmetric NAT. */
async function world(ports: PortAllocation) {
  const sim = new Simulator(5);
  const net = new Network(sim, { udpLoss: 0 });
  const pages = new PageStore();
  const rendezvous = net.addHost();
  const peer = net.addHost();
  const inside = net.addHost({ nat: 'symmetric', natPorts: ports });
  const rr = createSimRuntime(net, rendezvous, pages);
  const accepted = new ConnectionManager(rr.clock, rr.timers);
  const demux = new InboundDemux();
  demux.register(portProbeInbound());
  await rr.tcp.listen({ port: 6881 }, (stream) => {
    const managed = accepted.accept(stream, 'tcp');
    if (managed !== undefined) demux.handle(managed);
  });
  const seenAt: number[] = [];
  await createSimRuntime(net, peer, pages).tcp.listen({ port: 80 }, (s) => {
    seenAt.push(s.remotePort);
  });
  const rs = createSimRuntime(net, inside, pages);
  const deps = {
    connections: new ConnectionManager(rs.clock, rs.timers),
    transport: new TcpTransport(rs),
    clock: rs.clock,
    timers: rs.timers,
  };
  const probe = () => probeExternalEndpoint(deps, { host: rendezvous.publicIp, port: 6881 }, 2000);
  const [a, b] = await sim.runUntilSettled(Promise.all([probe(), probe()]));
  // The next connection, to someone else.
  await sim.runUntilSettled(rs.tcp.connect(peer.publicIp, 80, { timeoutMs: 2000 }));
  await sim.run(sim.now + 1000);
  return { a, b, inside, seenAt };
}

test('a NAT that maps in sequence: the probes see its address and two ports, the next is predicted', async () => {
  const { a, b, inside, seenAt } = await world('sequential');
  assert.equal(a.host, inside.publicIp);
  assert.equal(b.host, inside.publicIp);
  assert.notEqual(a.port, b.port, 'a symmetric NAT maps each connection anew');
  const predicted = predictPorts([a.port, b.port], 4);
  assert.ok(predicted !== undefined, `ports ${a.port} and ${b.port} are in sequence`);
  assert.equal(seenAt.length, 1);
  assert.equal(seenAt[0], predicted.first, 'the next connection came from the predicted port');
});

test('a NAT that picks ports at random: nothing is predicted', async () => {
  const { a, b, seenAt } = await world('random');
  assert.equal(predictPorts([a.port, b.port], 4), undefined, `ports ${a.port}, ${b.port}`);
  assert.equal(seenAt.length, 1);
  assert.ok(Math.abs(seenAt[0]! - Math.max(a.port, b.port)) > 4, 'and the next port is elsewhere');
});
