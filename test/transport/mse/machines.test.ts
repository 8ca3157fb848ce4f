import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom } from '../../../src/runtime/seeded-random.js';
import { type MseFailure, MseHandshakeError } from '../../../src/transport/mse/errors.js';
import { MseInitiator } from '../../../src/transport/mse/initiator.js';
import type { Rc4 } from '../../../src/transport/mse/rc4.js';
import {
  COMBINATIONS,
  CraftedInitiator,
  CraftedResponder,
  feedCut,
  INFO_HASH,
  initiatorWith,
  OTHER_HASH,
  responderWith,
  runMachines,
} from './support.js';

const failsWith = (reason: MseFailure) => (e: unknown) =>
  e instanceof MseHandshakeError && e.code === 'MSE_HANDSHAKE' && e.reason === reason;

/** The keystream check: what A encrypts B decrypts, and the reverse. */
function assertCiphersPair(a: { encrypt: Rc4; decrypt: Rc4 }, b: { encrypt: Rc4; decrypt: Rc4 }) {
  const message = Buffer.from('payload after the handshake');
  const wire = Buffer.from(message);
  a.encrypt.process(wire);
  assert.ok(!wire.equals(message));
  b.decrypt.process(wire);
  assert.ok(wire.equals(message));
  b.encrypt.process(wire);
  a.decrypt.process(wire);
  assert.ok(wire.equals(message));
}

test('initiator and responder agree on every combination of allowed ciphers', () => {
  for (const c of COMBINATIONS) {
    const label = `${c.a} → ${c.b}${c.prefer ? ` preferring ${c.prefer}` : ''}`;
    const initiator = initiatorWith({ allow: c.a });
    const responder = responderWith({ allow: c.b, ...(c.prefer && { prefer: c.prefer }) });
    if (c.expect === 'no-common-crypto') {
      assert.throws(() => runMachines(initiator, responder), failsWith('no-common-crypto'), label);
      continue;
    }
    const t = runMachines(initiator, responder);
    assert.equal(t.initiator.cipher, c.expect, label);
    assert.equal(t.responder.cipher, c.expect, label);
    assert.ok(t.responder.infoHash.equals(INFO_HASH), label);
    assert.equal(t.responder.initialPayload.length, 0);
    assert.equal(t.initiator.leftover.length, 0);
    assert.equal(t.responder.leftover.length, 0);
    if (c.expect === 'rc4') assertCiphersPair(t.initiator.ciphers!, t.responder.ciphers!);
    else assert.equal(t.initiator.ciphers ?? t.responder.ciphers, undefined);
  }
});

test('the initial payload arrives decrypted whichever cipher is selected', () => {
  for (const allow of ['rc4', 'plaintext'] as const) {
    const ia = Buffer.from('\x13BitTorrent protocol and the rest of a handshake', 'latin1');
    const t = runMachines(initiatorWith({ allow, initialPayload: ia }), responderWith());
    assert.ok(t.responder.initialPayload.equals(ia), allow);
    // IA is encrypted on the wire even when plaintext follows
    assert.equal(t.aToB.indexOf(ia), -1);
  }
  const big = new SeededRandom(5).bytes(65535);
  const t = runMachines(initiatorWith({ initialPayload: big }), responderWith());
  assert.ok(t.responder.initialPayload.equals(big));
  assert.throws(() => initiatorWith({ initialPayload: Buffer.alloc(65536) }), RangeError);
  assert.throws(() => initiatorWith({ infoHash: Buffer.alloc(19) }), RangeError);
});

test('the responder finds the torrent among all it serves, and refuses others', () => {
  const t = runMachines(initiatorWith({ infoHash: OTHER_HASH }), responderWith());
  assert.ok(t.responder.infoHash.equals(OTHER_HASH));
  const unknown = Buffer.alloc(20, 7);
  assert.throws(
    () => runMachines(initiatorWith({ infoHash: unknown }), responderWith()),
    failsWith('unknown-torrent'),
  );
});

test('padding lengths come from the random source, within 0..512', () => {
  const lengths = new Set<number>();
  for (let seed = 1; seed <= 30; seed++) {
    const t = runMachines(initiatorWith({}, seed), responderWith({}, 100 + seed));
    // Ya + PadA + 20 + 20 + VC 8 + provide 4 + 2 + PadC + 2
    const aPads = t.aToB.length - (96 + 20 + 20 + 8 + 4 + 2 + 2);
    const bPads = t.bToA.length - (96 + 8 + 4 + 2);
    assert.ok(aPads >= 0 && aPads <= 1024 && bPads >= 0 && bPads <= 1024);
    lengths.add(aPads).add(bPads);
  }
  assert.ok(lengths.size > 20, 'the pads vary');
});

test('the responder completes from every split point of the initiator’s bytes', () => {
  const ia = Buffer.from('initial payload');
  const t = runMachines(initiatorWith({ initialPayload: ia }), responderWith());
  const reference = feedCut((c) => responderWith().receive(c), t.aToB, []);
  assert.ok(reference.sent.equals(t.bToA));
  for (let cut = 0; cut <= t.aToB.length; cut++) {
    const r = responderWith();
    const out = feedCut((c) => r.receive(c), t.aToB, [cut]);
    assert.ok(out.sent.equals(t.bToA), `cut at ${cut}`);
    assert.ok(out.outcome?.initialPayload.equals(ia), `cut at ${cut}`);
  }
  const r = responderWith();
  const cuts = Array.from({ length: t.aToB.length - 1 }, (_, i) => i + 1);
  assert.ok(feedCut((c) => r.receive(c), t.aToB, cuts).outcome, 'one byte at a time');
});

test('the initiator completes from every split point of the responder’s bytes', () => {
  const t = runMachines(initiatorWith(), responderWith());
  for (let cut = 0; cut <= t.bToA.length; cut++) {
    const i = initiatorWith();
    i.start();
    const out = feedCut((c) => i.receive(c), t.bToA, [cut]);
    assert.ok(
      Buffer.concat([t.aToB.subarray(0, t.aToB.length - out.sent.length), out.sent]).equals(t.aToB),
    );
    assert.equal(out.outcome?.cipher, 'rc4', `cut at ${cut}`);
  }
  const i = initiatorWith();
  i.start();
  const cuts = Array.from({ length: t.bToA.length - 1 }, (_, n) => n + 1);
  assert.ok(feedCut((c) => i.receive(c), t.bToA, cuts).outcome, 'one byte at a time');
});

test('bytes after the handshake come out as leftover, decrypted with RC4', () => {
  for (const allow of ['rc4', 'plaintext'] as const) {
    // a run to learn each side's bytes and keystreams, then replays with payload appended
    const t = runMachines(initiatorWith({ allow }), responderWith());
    const payload = Buffer.from(`${allow} payload`);
    const onWire = (cipher: Rc4 | undefined) => {
      const p = Buffer.from(payload);
      cipher?.process(p);
      return p;
    };
    const toB = Buffer.concat([t.aToB, onWire(t.initiator.ciphers?.encrypt)]);
    const r = responderWith();
    assert.ok(feedCut((c) => r.receive(c), toB, []).outcome?.leftover.equals(payload), allow);
    const toA = Buffer.concat([t.bToA, onWire(t.responder.ciphers?.encrypt)]);
    const i = initiatorWith({ allow });
    i.start();
    assert.ok(feedCut((c) => i.receive(c), toA, []).outcome?.leftover.equals(payload), allow);
  }
});

test('the responder gives up when HASH(req1, S) is not within 512 bytes of PadA', () => {
  // 532 bytes after Ya without the sync hash: an error exactly at the 532nd byte
  const crafted = new CraftedInitiator();
  const r = responderWith();
  r.receive(crafted.first());
  for (let n = 1; n < 532; n++) r.receive(Buffer.from([0x41]));
  assert.throws(() => r.receive(Buffer.from([0x41])), failsWith('protocol'));
  assert.throws(() => r.receive(Buffer.alloc(1)), failsWith('protocol'), 'and stays failed');
  // PadA of exactly 512 is fine
  const ok = new CraftedInitiator();
  const r2 = responderWith();
  const yb = r2.receive(ok.first(512)).send[0]!;
  assert.ok(r2.receive(ok.third(yb.subarray(0, 96))).outcome);
  // 513 is not
  const over = new CraftedInitiator();
  const r3 = responderWith();
  const yb3 = r3.receive(over.first(513)).send[0]!;
  assert.throws(() => r3.receive(over.third(yb3.subarray(0, 96))), failsWith('protocol'));
});

test('the initiator gives up when the VC is not within 512 bytes of PadB', () => {
  for (const padB of [512, 513]) {
    const i = initiatorWith();
    const crafted = new CraftedResponder();
    const yb = crafted.second(i.start().subarray(0, 96), padB);
    const step = i.receive(yb);
    assert.equal(step.send.length, 1, 'the third message goes out once Yb is in');
    const fourth = crafted.fourth();
    if (padB === 512) assert.equal(i.receive(fourth).outcome?.cipher, 'rc4');
    else assert.throws(() => i.receive(fourth), failsWith('protocol'));
  }
});

test('oversize PadC, oversize PadD and a wrong VC are refused', () => {
  const cases: [
    string,
    (r: ReturnType<typeof responderWith>, c: CraftedInitiator, yb: Buffer) => void,
  ][] = [
    ['PadC 513', (r, c, yb) => r.receive(c.third(yb, { padC: 513 }))],
    [
      'VC not zero',
      (r, c, yb) => r.receive(c.third(yb, { vc: Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]) })),
    ],
  ];
  for (const [label, act] of cases) {
    const c = new CraftedInitiator();
    const r = responderWith();
    const yb = r.receive(c.first()).send[0]!.subarray(0, 96);
    assert.throws(() => act(r, c, yb), failsWith('protocol'), label);
  }
  const c = new CraftedInitiator();
  const r = responderWith();
  const yb = r.receive(c.first()).send[0]!.subarray(0, 96);
  assert.ok(r.receive(c.third(yb, { padC: 512 })).outcome, 'PadC 512 is fine');

  for (const [padD, ok] of [
    [512, true],
    [513, false],
  ] as const) {
    const i = initiatorWith();
    const crafted = new CraftedResponder();
    i.receive(crafted.second(i.start().subarray(0, 96)));
    const fourth = crafted.fourth({ padD });
    if (ok) assert.ok(i.receive(fourth).outcome);
    else assert.throws(() => i.receive(fourth), failsWith('protocol'));
  }
});

test('the initiator refuses a selection it did not provide', () => {
  const cases: [number, 'rc4' | 'plaintext', MseFailure | 'rc4' | 'plaintext'][] = [
    [0x02, 'plaintext', 'protocol'],
    [0x01, 'rc4', 'protocol'],
    [0x00, 'rc4', 'no-common-crypto'],
    [0x03, 'rc4', 'protocol'],
    [0xf2, 'rc4', 'rc4'], // unknown bits are ignored
    [0x101, 'plaintext', 'plaintext'],
  ];
  for (const [select, allow, expect] of cases) {
    const i = new MseInitiator({ infoHash: INFO_HASH, allow, random: new SeededRandom(4) });
    const crafted = new CraftedResponder();
    i.receive(crafted.second(i.start().subarray(0, 96)));
    const fourth = crafted.fourth({ select });
    if (expect === 'rc4' || expect === 'plaintext') {
      assert.equal(i.receive(fourth).outcome?.cipher, expect, `select ${select}`);
    } else {
      assert.throws(() => i.receive(fourth), failsWith(expect), `select ${select}`);
    }
  }
});

test('a public key of zeros is refused before anything is sent back', () => {
  const r = responderWith();
  assert.throws(() => r.receive(Buffer.alloc(96)), failsWith('bad-key'));
  const i = initiatorWith();
  i.start();
  assert.throws(() => i.receive(Buffer.alloc(96)), failsWith('bad-key'));
});

test('nothing happens until 96 bytes of public key are in', () => {
  const r = responderWith();
  for (let n = 0; n < 95; n++) assert.deepEqual(r.receive(Buffer.from([n + 2])).send, []);
  assert.equal(r.receive(Buffer.from([1])).send.length, 1);
});
