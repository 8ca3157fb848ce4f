/**
 * Acceptance: port mapping against a real router daemon. Debian's miniupnpd runs as the NAT
 * router between two network namespaces (see nat-helpers.ts); shoal seeds inside with
 * `--upnp` or `--nat-pmp`, and:
 *
 * - the mappings appear in the router's nftables rules (TCP and UDP to shoal's ports), and
 *   shoal reports the router's external address and ports (`portMapping` event);
 * - a shoal leecher outside, which has no route to the inside network, downloads the whole
 *   torrent through the router's external address and the mapped port — over TCP (UPnP) and
 *   over uTP only (NAT-PMP, so the UDP mapping carries it);
 * - when the seeder stops, the mappings are gone from the router.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import {
  assertSameContent,
  fileScope,
  makeTransferFixture,
  netnsProbe,
  requireTool,
  shoalFetch,
  shoalSeed,
  type TransferFixture,
  tempDir,
  torrentOf,
  waitUntil,
} from './helpers.js';
import { createNatNetwork, MINIUPNPD_PROBE, NFT_PROBE } from './nat-helpers.js';

const scope = fileScope();
let fixture: Promise<TransferFixture> | undefined;
const getFixture = () => {
  fixture ??= makeTransferFixture(scope, ['v1']);
  return fixture;
};

function usable(t: TestContext): boolean {
  return (
    requireTool(t, 'netns', netnsProbe) &&
    requireTool(t, 'nft', NFT_PROBE) &&
    requireTool(t, 'miniupnpd', MINIUPNPD_PROBE)
  );
}

interface MappedPort {
  transport: string;
  internalPort: number;
  externalPort: number;
}

for (const method of ['upnp', 'nat-pmp'] as const) {
  const over = method === 'upnp' ? 'TCP' : 'uTP';
  test(`${method === 'upnp' ? 'UPnP' : 'NAT-PMP'}: miniupnpd maps shoal's ports, a peer outside downloads through them over ${over}, stop unmaps`, {
    timeout: 120_000,
  }, async (t) => {
    if (!usable(t)) return;
    const net = await createNatNetwork(t);
    const fx = await getFixture();
    const torrent = torrentOf(fx, 'v1');
    const seed = await shoalSeed(t, fx, torrent, {
      host: net.insideAddress,
      netns: net.inside,
      args: [`--${method}`, '--no-dht'],
    });
    const mapped = await seed.proc.waitForLine(/"event":"portMapping".*"state":"mapped"/, 20_000);
    const status = JSON.parse(mapped.input ?? '') as {
      method: string;
      router: string;
      externalAddress: string;
      ports: MappedPort[];
      leaseSeconds: number;
    };
    assert.equal(status.method, method);
    assert.equal(status.router, '10.202.1.1');
    assert.equal(status.externalAddress, net.externalAddress, 'the router told its WAN address');
    const tcp = status.ports.find((p) => p.transport === 'tcp');
    const udp = status.ports.find((p) => p.transport === 'udp');
    assert.equal(tcp?.internalPort, seed.port);
    assert.ok(udp, 'the UDP socket is mapped too');
    assert.ok(status.leaseSeconds > 0 && status.leaseSeconds <= 3600, `${status.leaseSeconds} s`);

    const rules = await net.redirects();
    // miniupnpd writes `iif "<wan>" @nh,72,8 0x6 th dport N dnat ip to A:M` (0x6 TCP, 0x11 UDP).
    const to = (p: MappedPort, proto: string) =>
      rules.some(
        (r) =>
          r.includes(`@nh,72,8 ${proto === 'tcp' ? '0x6' : '0x11'} `) &&
          r.includes(`dport ${p.externalPort} `) &&
          r.endsWith(`dnat ip to ${net.insideAddress}:${p.internalPort}`),
      );
    assert.ok(to(tcp!, 'tcp'), `a TCP redirect in the router:\n${rules.join('\n')}`);
    assert.ok(to(udp!, 'udp'), `a UDP redirect in the router:\n${rules.join('\n')}`);

    const saveDir = await tempDir(t, 'shoal-nat-get-');
    const result = await shoalFetch(t, torrent, saveDir, {
      host: net.outsideAddress,
      netns: net.outside,
      peers: [`${net.externalAddress}:${tcp!.externalPort}`],
      args: ['--no-dht', ...(method === 'nat-pmp' ? ['--no-tcp'] : [])],
      timeoutMs: 60_000,
    });
    await assertSameContent(fx, saveDir);
    const peers = result.proc.events().filter((e) => e.event === 'peer');
    assert.ok(
      peers.some((p) => p.address === `${net.externalAddress}:${tcp!.externalPort}`),
      `the seeder was reached at the router's address: ${JSON.stringify(peers)}`,
    );
    if (method === 'nat-pmp')
      assert.ok(
        peers.every((p) => p.transport === 'utp'),
        'over uTP only',
      );
    t.diagnostic(`fetched through the ${method} mapping in ${result.seconds.toFixed(1)} s`);

    await seed.proc.stop();
    assert.equal(seed.proc.exitCode, 0, seed.proc.tail());
    assert.ok(
      seed.proc.events().some((e) => e.event === 'portMapping' && e.state === 'stopped'),
      'shoal reported the mapping removed',
    );
    const left = await waitUntil(
      'the router to drop the mappings',
      async () => ((await net.redirects()).length === 0 ? true : undefined),
      5000,
      { detail: () => net.miniupnpd.tail() },
    );
    assert.equal(left, true);
  });
}
