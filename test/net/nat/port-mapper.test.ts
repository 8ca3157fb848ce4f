import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  PortMapper,
  type PortMapperOptions,
  type PortMappingStatus,
} from '../../../src/net/nat/port-mapper.js';
import { FakeRouter, type FakeRouterOptions } from '../../support/fake-router.js';

const TCP = 6881;
const UDP = 6882;

/** Lets the fake router's replies (microtasks and resolved promises) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

async function until(mapper: PortMapper, state: PortMappingStatus['state']) {
  for (let i = 0; i < 100 && mapper.status.state !== state; i++) await settle();
  assert.equal(mapper.status.state, state, JSON.stringify(mapper.status));
  return mapper.status;
}

function setup(router: FakeRouterOptions, options: Partial<PortMapperOptions>) {
  const fake = new FakeRouter(router);
  const mapper = new PortMapper(fake.deps(), { upnp: false, natPmp: false, ...options });
  const seen: PortMappingStatus[] = [];
  mapper.on('change', (s) => seen.push(s));
  mapper.start({ tcp: TCP, udp: UDP });
  return { fake, mapper, seen };
}

test('NAT-PMP maps TCP and UDP at the default gateway, renews at half the lifetime, unmaps on stop', async () => {
  const { fake, mapper } = setup({ natPmpLifetimeCap: 600 }, { natPmp: true });
  const status = await until(mapper, 'mapped');
  assert.equal(status.method, 'nat-pmp');
  assert.equal(status.router, FakeRouter.lan, 'the gateway came from /proc/net/route');
  assert.equal(status.externalAddress, FakeRouter.external);
  assert.equal(status.leaseSeconds, 600, 'the lifetime the gateway granted, not the one asked');
  assert.deepEqual(status.ports, [
    { transport: 'tcp', internalPort: TCP, externalPort: TCP },
    { transport: 'udp', internalPort: UDP, externalPort: UDP },
  ]);
  assert.equal(fake.mapping('tcp', TCP)?.lease, 600);
  assert.ok(fake.log.includes('nat-pmp map tcp 6881 3600'), 'one hour asked');

  fake.log.length = 0;
  fake.clock.advance(299_000);
  await settle();
  assert.deepEqual(fake.log, [], 'nothing before half the lifetime');
  fake.clock.advance(1000);
  await until(mapper, 'mapped');
  for (let i = 0; i < 5; i++) await settle();
  assert.deepEqual(fake.log, [
    'nat-pmp address',
    'nat-pmp map tcp 6881 3600',
    'nat-pmp map udp 6882 3600',
  ]);

  await mapper.stop();
  assert.equal(mapper.status.state, 'stopped');
  assert.equal(fake.mappings.size, 0, 'both mappings deleted');
  assert.ok(fake.log.some((l) => l === 'nat-pmp map tcp 6881 0'));
});

test('a NAT-PMP gateway that grants another external port is announced with that port', async () => {
  const { mapper } = setup({ takenPorts: [TCP] }, { natPmp: true });
  const status = await until(mapper, 'mapped');
  assert.equal(mapper.externalPort('tcp'), TCP + 1);
  assert.equal(mapper.externalPort('udp'), UDP);
  assert.equal(status.ports[0]?.internalPort, TCP);
  await mapper.stop();
});

test('UPnP: SSDP discovery, the description, AddPortMapping for both, renewal, DeletePortMapping', async () => {
  const { fake, mapper } = setup({ natPmp: false }, { upnp: true, leaseSeconds: 1200 });
  const status = await until(mapper, 'mapped');
  assert.equal(status.method, 'upnp');
  assert.equal(status.router, FakeRouter.lan);
  assert.equal(status.externalAddress, FakeRouter.external);
  assert.equal(status.leaseSeconds, 1200);
  assert.deepEqual(fake.mapping('tcp', TCP), {
    protocol: 'tcp',
    externalPort: TCP,
    internalPort: TCP,
    client: FakeRouter.client,
    lease: 1200,
  });
  assert.equal(fake.mapping('udp', UDP)?.internalPort, UDP);

  fake.log.length = 0;
  fake.clock.advance(600_000);
  for (let i = 0; i < 10; i++) await settle();
  assert.deepEqual(
    fake.log.filter((l) => l.startsWith('upnp map')),
    ['upnp map tcp 6881 1200', 'upnp map udp 6882 1200'],
    'renewed at half the lease, same ports',
  );

  await mapper.stop();
  assert.equal(fake.mappings.size, 0);
  assert.equal(fake.log.filter((l) => l === 'upnp DeletePortMapping').length, 2);
});

test('UPnP: a router that takes only permanent mappings gets lease 0 and no renewals', async () => {
  const { fake, mapper } = setup({ natPmp: false, onlyPermanentLeases: true }, { upnp: true });
  const status = await until(mapper, 'mapped');
  assert.equal(status.leaseSeconds, 0);
  assert.equal(fake.mapping('tcp', TCP)?.lease, 0);
  fake.log.length = 0;
  fake.clock.advance(10 * 3600_000);
  await settle();
  assert.deepEqual(fake.log, []);
  await mapper.stop();
  assert.equal(fake.mappings.size, 0, 'permanent mappings are removed on stop too');
});

test('UPnP: an external port taken by another host is replaced by another', async () => {
  const { fake, mapper } = setup({ natPmp: false, takenPorts: [TCP] }, { upnp: true });
  await until(mapper, 'mapped');
  const external = mapper.externalPort('tcp')!;
  assert.notEqual(external, TCP);
  assert.equal(fake.mapping('tcp', external)?.internalPort, TCP);
  await mapper.stop();
});

test('NAT-PMP first; a gateway that does not answer it is asked over UPnP', async () => {
  const { fake, mapper } = setup({ natPmp: false }, { natPmp: true, upnp: true });
  await settle();
  assert.equal(mapper.status.state, 'mapping');
  for (const ms of [250, 500, 1000, 2000]) {
    fake.clock.advance(ms);
    await settle();
  }
  const status = await until(mapper, 'mapped');
  assert.equal(status.method, 'upnp');
  await mapper.stop();
});

test('no router: failed with both reasons, retried after a minute', async () => {
  const { fake, mapper } = setup({ natPmp: false, upnp: false }, { natPmp: true, upnp: true });
  await settle();
  for (const ms of [250, 500, 1000, 2000]) {
    fake.clock.advance(ms);
    await settle();
  }
  fake.clock.advance(3000);
  const status = await until(mapper, 'failed');
  assert.match(status.error ?? '', /NAT-PMP: no answer from 192\.168\.1\.1:5351/);
  assert.match(status.error ?? '', /UPnP: no gateway answered/);
  fake.log.length = 0;
  fake.clock.advance(60_000);
  await settle();
  assert.equal(mapper.status.state, 'mapping', 'a second attempt');
  const stopping = mapper.stop();
  fake.clock.advance(5000); // stop waits a few seconds at most for the attempt in flight
  await stopping;
  assert.equal(mapper.status.state, 'stopped');
});

test('under the loopback egress policy it fails once, saying why, and does not retry', async () => {
  const { fake, mapper } = setup({ egressDenied: true }, { natPmp: true, upnp: true });
  const status = await until(mapper, 'failed');
  assert.match(status.error ?? '', /egress policy/);
  fake.clock.advance(24 * 3600_000);
  await settle();
  assert.equal(mapper.status.state, 'failed');
  assert.equal(fake.clock.pending(), 0, 'no timer left');
  await mapper.stop();
});

test('a double NAT is reported: mapped, with a warning that the address is not public', async () => {
  const { mapper } = setup({ externalAddress: '10.0.0.5' }, { natPmp: true });
  const status = await until(mapper, 'mapped');
  assert.equal(status.externalAddress, '10.0.0.5');
  assert.match(status.warning ?? '', /10\.0\.0\.5 is not public/);
  await mapper.stop();
  const plain = setup({}, { natPmp: true }).mapper;
  assert.equal((await until(plain, 'mapped')).warning, undefined, '100.128.0.1 is public');
  await plain.stop();
});
