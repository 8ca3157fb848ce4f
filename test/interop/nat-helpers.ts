/**
 * A home network in network namespaces for port-mapping tests: an inside host behind a router
 * that runs Debian's `miniupnpd` (UPnP IGD and NAT-PMP) with nftables NAT, and an outside host
 * on the router's "internet" side. Everything is made by the test and deleted when it ends.
 *
 *   inside 10.202.1.2 ── 10.202.1.1 router 100.128.0.1 ── 100.128.0.2 outside
 *
 * The router masquerades inside → outside and forwards nothing inwards except what miniupnpd
 * maps; the outside host has no route to 10.202.1.0/24, so the only way in is a mapping.
 * miniupnpd refuses to run when its external address is private or reserved, so the WAN side
 * uses public-looking addresses (100.128.0.0/24, just past carrier-grade NAT space); the
 * namespaces have no link to the host's network, so nothing sent to them can leave.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { defer, type Netns, type Proc, run, startProcess, tempDir, waitUntil } from './helpers.js';

/** The test network made by {@link createNatNetwork}. */
export interface NatNetwork {
  /** The host behind the router; its `cidr` also allows the SSDP group and the outside. */
  readonly inside: Netns;
  /** A host on the internet side. */
  readonly outside: Netns;
  readonly routerNetns: string;
  readonly insideAddress: string;
  readonly outsideAddress: string;
  /** The router's address on the internet side: what a mapping is reached at. */
  readonly externalAddress: string;
  readonly miniupnpd: Proc;
  /** The router's DNAT rules (miniupnpd's prerouting chain), one per line. */
  redirects(): Promise<string[]>;
}

export const MINIUPNPD = '/usr/sbin/miniupnpd';

let counter = 0;

/**
 * Builds the three namespaces, the router's nftables ruleset (the chains miniupnpd fills:
 * `inet filter` `miniupnpd`, `prerouting_miniupnpd`, `postrouting_miniupnpd`) and starts
 * miniupnpd with UPnP and NAT-PMP on, mappings allowed to inside hosts only (secure mode).
 * Resolves once it listens.
 */
export async function createNatNetwork(t: TestContext): Promise<NatNetwork> {
  const id = `${process.pid % 10000}${++counter}`;
  const ns = { inside: `shoal-in-${id}`, router: `shoal-rt-${id}`, outside: `shoal-out-${id}` };
  const link = { lan: `sn${id}l`, lanPeer: `sn${id}L`, wan: `sn${id}w`, wanPeer: `sn${id}W` };
  const ip = async (...args: string[]) => {
    const r = await run('ip', args);
    if (r.code !== 0) throw new Error(`ip ${args.join(' ')} exited with ${r.code}: ${r.stderr}`);
  };
  for (const name of Object.values(ns)) {
    await ip('netns', 'add', name);
    defer(t, () => run('ip', ['netns', 'del', name]));
    await ip('-n', name, 'link', 'set', 'lo', 'up');
  }
  // Veth pairs are made in the namespaces, so nothing is left in the host's when they go.
  await ip(
    '-n',
    ns.inside,
    'link',
    'add',
    link.lan,
    'type',
    'veth',
    'peer',
    'name',
    link.lanPeer,
    'netns',
    ns.router,
  );
  await ip(
    '-n',
    ns.outside,
    'link',
    'add',
    link.wan,
    'type',
    'veth',
    'peer',
    'name',
    link.wanPeer,
    'netns',
    ns.router,
  );
  const up = async (name: string, dev: string, cidr: string) => {
    await ip('-n', name, 'addr', 'add', cidr, 'dev', dev);
    await ip('-n', name, 'link', 'set', dev, 'up');
  };
  await up(ns.inside, link.lan, '10.202.1.2/24');
  await up(ns.router, link.lanPeer, '10.202.1.1/24');
  await up(ns.router, link.wanPeer, '100.128.0.1/24');
  await up(ns.outside, link.wan, '100.128.0.2/24');
  await ip('-n', ns.inside, 'route', 'add', 'default', 'via', '10.202.1.1');
  const sysctl = await run('ip', [
    'netns',
    'exec',
    ns.router,
    'sysctl',
    '-qw',
    'net.ipv4.ip_forward=1',
  ]);
  if (sysctl.code !== 0) throw new Error(`sysctl: ${sysctl.stderr}`);

  const dir = await tempDir(t, 'shoal-router-');
  const ruleset = join(dir, 'router.nft');
  await writeFile(
    ruleset,
    `table inet filter {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "${link.lanPeer}" oifname "${link.wanPeer}" accept
    jump miniupnpd
  }
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
    oifname "${link.wanPeer}" masquerade
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
}
`,
  );
  const nft = await run('ip', ['netns', 'exec', ns.router, 'nft', '-f', ruleset]);
  if (nft.code !== 0) throw new Error(`nft -f exited with ${nft.code}: ${nft.stderr}`);

  const config = join(dir, 'miniupnpd.conf');
  await writeFile(
    config,
    [
      `ext_ifname=${link.wanPeer}`,
      `listening_ip=${link.lanPeer}`,
      'http_port=0',
      'enable_upnp=yes',
      'enable_natpmp=yes',
      'secure_mode=yes',
      'system_uptime=no',
      'notify_interval=60',
      'clean_ruleset_interval=600',
      'uuid=5e5a1a0e-0000-4000-8000-5e0a15000001',
      `lease_file=${join(dir, 'leases')}`,
      'allow 1024-65535 10.202.1.0/24 1024-65535',
      'deny 0-65535 0.0.0.0/0 0-65535',
      '',
    ].join('\n'),
  );
  const miniupnpd = startProcess(t, 'miniupnpd', 'ip', [
    'netns',
    'exec',
    ns.router,
    MINIUPNPD,
    '-f',
    config,
    '-d',
    '-P',
    join(dir, 'miniupnpd.pid'),
  ]);
  await waitUntil(
    'miniupnpd to listen',
    () => (miniupnpd.tail(20_000).includes('Listening for NAT-PMP') ? true : undefined),
    10_000,
    {
      abort: () =>
        miniupnpd.exitCode === undefined
          ? undefined
          : `miniupnpd exited with ${miniupnpd.exitCode}`,
      detail: () => miniupnpd.tail(),
    },
  );
  return {
    inside: {
      name: ns.inside,
      addresses: ['10.202.1.2'],
      // Its LAN, the SSDP group, and the internet side: replies to an outside peer that came in
      // through a mapping go to that peer's own address.
      cidr: '10.202.1.0/24,239.255.255.250/32,100.128.0.0/24',
    },
    outside: { name: ns.outside, addresses: ['100.128.0.2'], cidr: '100.128.0.0/24' },
    routerNetns: ns.router,
    insideAddress: '10.202.1.2',
    outsideAddress: '100.128.0.2',
    externalAddress: '100.128.0.1',
    miniupnpd,
    async redirects() {
      const r = await run('ip', [
        'netns',
        'exec',
        ns.router,
        'nft',
        'list',
        'chain',
        'inet',
        'filter',
        'prerouting_miniupnpd',
      ]);
      if (r.code !== 0) throw new Error(`nft list chain exited with ${r.code}: ${r.stderr}`);
      return r.stdout
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.includes('dnat'));
    },
  };
}

/** {@link requireTool} probe: nftables' command, which builds the router's ruleset. */
export const NFT_PROBE = ['nft', '--version'] as const;
/** {@link requireTool} probe: Debian's miniupnpd. */
export const MINIUPNPD_PROBE = [MINIUPNPD, '--version'] as const;
