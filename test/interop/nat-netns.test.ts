import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  defer,
  netnsProbe,
  type Proc,
  requireTool,
  run,
  SHOAL_CLI,
  startProcess,
  tempDir,
} from './helpers.js';

// Two shoal nodes behind real NATs (Linux network namespaces, iptables MASQUERADE) find each
// other by key through a private DHT whose one bootstrap node — on the "Internet" between the
// NATs — is also the rendezvous and relay. Behind two port-keeping NATs they meet by a TCP
// hole punch; when one NAT picks random ports (MASQUERADE --random-fully, a symmetric NAT)
// they are relayed, and the relay's bytes hold no plaintext.

const RELAY_SCRIPT = fileURLToPath(new URL('../support/recording-relay.js', import.meta.url));

/**
 * Addresses: the Internet is one /16 on a bridge (one address per machine, so replies leave
 * from the address that was asked, as on the real Internet); each NAT has its outer address
 * there and a home network behind it.
 */
const INTERNET = '172.20';
const RELAY_ADDRESS = `${INTERNET}.0.1`;
const NET = {
  a: { wan: `${INTERNET}.1.2`, lan: '10.91.1' },
  b: { wan: `${INTERNET}.2.2`, lan: '10.91.2' },
} as const;
const ALLOW = '172.20.0.0/16,10.91.0.0/16';

let counter = 0;

async function sh(args: readonly string[]): Promise<void> {
  const r = await run(args[0]!, args.slice(1));
  if (r.code !== 0) throw new Error(`${args.join(' ')} exited with ${r.code}: ${r.stderr}`);
}

/**
 * Five namespaces, deleted when the test ends: `pub` (the Internet: a bridge with the relay's
 * address and the NATs' outer ones), `nat-a`/`nat-b` (home routers: MASQUERADE out, unsolicited
 * connections dropped, as home routers do), `host-a`/`host-b` behind them. `randomPortsB`
 * makes B's NAT symmetric.
 */
async function natTopology(
  t: TestContext,
  randomPortsB: boolean,
): Promise<Record<'pub' | 'natA' | 'natB' | 'hostA' | 'hostB', string>> {
  const id = `sn${process.pid % 100_000}x${++counter}`;
  const ns = {
    pub: `${id}-pub`,
    natA: `${id}-na`,
    natB: `${id}-nb`,
    hostA: `${id}-ha`,
    hostB: `${id}-hb`,
  };
  for (const name of Object.values(ns)) {
    await sh(['ip', 'netns', 'add', name]);
    defer(t, () => run('ip', ['netns', 'del', name]));
    await sh(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
  }
  const bridge = `${id}br`;
  await sh(['ip', '-n', ns.pub, 'link', 'add', bridge, 'type', 'bridge']);
  await sh(['ip', '-n', ns.pub, 'addr', 'add', `${RELAY_ADDRESS}/16`, 'dev', bridge]);
  await sh(['ip', '-n', ns.pub, 'link', 'set', bridge, 'up']);
  let veth = 0;
  /** A veth pair between two namespaces; returns the right end's name. */
  const link = async (left: string, right: string) => {
    const l = `${id}v${veth++}`;
    const r = `${id}v${veth++}`;
    await sh(['ip', 'link', 'add', l, 'type', 'veth', 'peer', 'name', r]);
    await sh(['ip', 'link', 'set', l, 'netns', left]);
    await sh(['ip', 'link', 'set', r, 'netns', right]);
    await sh(['ip', '-n', left, 'link', 'set', l, 'up']);
    await sh(['ip', '-n', right, 'link', 'set', r, 'up']);
    return { l, r };
  };
  for (const side of ['a', 'b'] as const) {
    const nat = side === 'a' ? ns.natA : ns.natB;
    const host = side === 'a' ? ns.hostA : ns.hostB;
    const { wan, lan } = NET[side];
    const outside = await link(ns.pub, nat);
    await sh(['ip', '-n', ns.pub, 'link', 'set', outside.l, 'master', bridge]);
    await sh(['ip', '-n', nat, 'addr', 'add', `${wan}/16`, 'dev', outside.r]);
    const wanDev = outside.r;
    const inside = await link(host, nat);
    await sh(['ip', '-n', host, 'addr', 'add', `${lan}.2/24`, 'dev', inside.l]);
    await sh(['ip', '-n', nat, 'addr', 'add', `${lan}.1/24`, 'dev', inside.r]);
    await sh(['ip', '-n', host, 'route', 'add', 'default', 'via', `${lan}.1`]);
    await sh(['ip', 'netns', 'exec', nat, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    const random = side === 'b' && randomPortsB ? ['--random-fully'] : [];
    const ipt = (...rule: string[]) => sh(['ip', 'netns', 'exec', nat, 'iptables', ...rule]);
    await ipt('-t', 'nat', '-A', 'POSTROUTING', '-o', wanDev, '-j', 'MASQUERADE', ...random);
    // A home router drops what nobody inside asked for (it does not answer with resets).
    await ipt(
      '-A',
      'INPUT',
      '-i',
      wanDev,
      '-m',
      'conntrack',
      '--ctstate',
      'NEW,INVALID',
      '-j',
      'DROP',
    );
    await ipt(
      '-A',
      'FORWARD',
      '-i',
      wanDev,
      '-m',
      'conntrack',
      '--ctstate',
      'NEW,INVALID',
      '-j',
      'DROP',
    );
  }
  return ns;
}

function inNs(t: TestContext, ns: string, name: string, argv: readonly string[]): Proc {
  return startProcess(t, name, 'ip', ['netns', 'exec', ns, process.execPath, ...argv], {
    env: { ...process.env, SHOAL_EGRESS: 'loopback', SHOAL_EGRESS_ALLOW: ALLOW },
  });
}

/** The relay and B up, B registered and published; A pings B by key. Returns the ping's events. */
async function pingAcrossNats(t: TestContext, randomPortsB: boolean) {
  const ns = await natTopology(t, randomPortsB);
  const dir = await tempDir(t, 'shoal-nat-');
  const dump = join(dir, 'relayed.bin');
  const relay = inNs(t, ns.pub, 'relay', [RELAY_SCRIPT, join(dir, 'relay'), dump]);
  const relayPort = Number((await relay.waitForEvent('started', 20_000)).port);
  const bootstrap = `${RELAY_ADDRESS}:${relayPort}`;
  const b = inNs(t, ns.hostB, 'shoal start (b)', [
    SHOAL_CLI,
    'start',
    '--port',
    '0',
    '--no-api',
    '--json',
    '--data-dir',
    join(dir, 'b'),
    '--dht-bootstrap',
    bootstrap,
  ]);
  const keyB = String((await b.waitForEvent('started', 20_000)).identity);
  const published = await b.waitForEvent('published', 60_000);
  assert.equal((published.addresses as string[]).length, 0, 'behind a NAT: no direct address');
  assert.equal((published.rendezvous as string[]).length, 1, 'reachable through the relay');
  const ping = inNs(t, ns.hostA, 'shoal ping (a)', [
    SHOAL_CLI,
    'ping',
    keyB,
    '--json',
    '-c',
    '3',
    '--interval',
    '100',
    '--data-dir',
    join(dir, 'a'),
    '--dht-bootstrap',
    bootstrap,
  ]);
  assert.equal(await ping.waitExit(60_000), 0, `${ping.tail()}\n${b.tail()}\n${relay.tail()}`);
  const connected = ping.event('connected')!;
  assert.equal(connected.identity, keyB);
  assert.equal(ping.events().filter((e) => e.event === 'pong').length, 3);
  const relayed = await readFile(dump).catch(() => Buffer.alloc(0));
  return { connected, relayed, b };
}

test('behind two port-keeping NATs: found by key, connected by a TCP hole punch', async (t) => {
  if (!requireTool(t, 'netns', netnsProbe)) return;
  const { connected, relayed, b } = await pingAcrossNats(t, false);
  assert.equal(connected.kind, 'punched', JSON.stringify(connected));
  assert.equal(relayed.length, 0, 'nothing went through the relay');
  const seen = b.events().find((e) => e.event === 'securePeer' && e.identity === connected.self);
  assert.equal(seen?.kind, 'punched', 'b holds the same punched connection');
});

test('behind a symmetric NAT: relayed, and the relay sees only ciphertext', async (t) => {
  if (!requireTool(t, 'netns', netnsProbe)) return;
  const { connected, relayed } = await pingAcrossNats(t, true);
  assert.equal(connected.kind, 'relayed', JSON.stringify(connected));
  assert.ok(relayed.length > 300, `the relay carried the connection (${relayed.length} bytes)`);
  // Inside the relayed connection the ping channel is opened by name: not readable here.
  assert.equal(relayed.indexOf(Buffer.from('shoal/ping')), -1, 'the channel name is not readable');
});
