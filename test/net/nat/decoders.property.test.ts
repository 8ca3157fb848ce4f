import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { NatReplyError } from '../../../src/net/nat/errors.js';
import { parseDefaultGateway } from '../../../src/net/nat/gateway.js';
import { parseDeviceDescription, parseSoapReply } from '../../../src/net/nat/igd.js';
import { decodeNatPmpReply, natPmpMapRequest } from '../../../src/net/nat/natpmp.js';
import { parseSsdpAnswer } from '../../../src/net/nat/ssdp.js';
import { decodeXmlText, escapeXml, xmlElements } from '../../../src/net/nat/xml.js';
import { IGD_V1_DESCRIPTION, IGD_V2_DESCRIPTION } from '../../support/fake-router.js';
import { assertDecoderSafe, FUZZ_RUNS, mutated } from '../../support/fuzz.js';

const latin1 = (b: Uint8Array) => Buffer.from(b).toString('latin1');
/** Text made mostly of the characters that matter to the scanners. */
const markup = fc
  .array(
    fc.constantFrom(
      '<',
      '>',
      '/',
      ':',
      '&',
      ';',
      '#',
      'x',
      's:',
      'service',
      'controlURL',
      ' ',
      'a',
      '1',
      '"',
    ),
    {
      maxLength: 80,
    },
  )
  .map((parts) => parts.join(''));

const SSDP = Buffer.from(
  'HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLOCATION: http://10.0.0.1:5000/d.xml\r\n\r\n',
);
const SOAP = Buffer.from(
  '<s:Envelope><s:Body><u:GetExternalIPAddressResponse><NewExternalIPAddress>1.2.3.4</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>',
);
const FAULT = Buffer.from(
  '<s:Envelope><s:Body><s:Fault><detail><UPnPError><errorCode>718</errorCode><errorDescription>x</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>',
);

test('SSDP answers: random and mutated input never throws anything but NatReplyError', () => {
  assertDecoderSafe(fc.uint8Array({ maxLength: 300 }), parseSsdpAnswer, NatReplyError);
  assertDecoderSafe(mutated(SSDP), parseSsdpAnswer, NatReplyError);
});

test('device descriptions: mutated and random markup never throws anything but NatReplyError', () => {
  const location = 'http://10.0.0.1:5000/d.xml';
  for (const doc of [IGD_V1_DESCRIPTION, IGD_V2_DESCRIPTION])
    assertDecoderSafe(
      mutated(Buffer.from(doc)).map(latin1),
      (xml) => parseDeviceDescription(xml, location),
      NatReplyError,
    );
  assertDecoderSafe(markup, (xml) => parseDeviceDescription(xml, location), NatReplyError);
});

test('SOAP replies: mutated and random markup never throws anything but NatReplyError', () => {
  for (const doc of [SOAP, FAULT])
    assertDecoderSafe(
      mutated(doc).map(latin1),
      (xml) => parseSoapReply(xml, 'GetExternalIPAddress', ['NewExternalIPAddress']),
      NatReplyError,
    );
  assertDecoderSafe(markup, (xml) => parseSoapReply(xml, 'AddPortMapping'), NatReplyError);
});

test('NAT-PMP replies: random and mutated bytes never throw anything but NatReplyError', () => {
  const reply = Buffer.from([0, 130, 0, 0, 0, 0, 0, 9, 0x1a, 0xe1, 0x1a, 0xe2, 0, 0, 0x0e, 0x10]);
  assertDecoderSafe(fc.uint8Array({ maxLength: 20 }), decodeNatPmpReply, NatReplyError);
  assertDecoderSafe(mutated(reply), decodeNatPmpReply, NatReplyError);
});

test('a NAT-PMP mapping reply round-trips the fields of its request', () => {
  fc.assert(
    fc.property(
      fc.constantFrom('tcp' as const, 'udp' as const),
      fc.integer({ min: 1, max: 65535 }),
      fc.integer({ min: 0, max: 65535 }),
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      (protocol, internal, external, lifetime) => {
        const req = natPmpMapRequest(protocol, internal, external, lifetime);
        // The gateway echoes the request's ports and lifetime after its header.
        const reply = Buffer.concat([
          Buffer.from([0, req[1]! + 128, 0, 0, 0, 0, 0, 1]),
          req.subarray(4),
        ]);
        assert.deepEqual(decodeNatPmpReply(reply), {
          op: protocol,
          result: 0,
          epochSeconds: 1,
          internalPort: internal,
          externalPort: external,
          lifetimeSeconds: lifetime,
        });
      },
    ),
    { numRuns: Math.min(FUZZ_RUNS, 10_000) },
  );
});

test('the XML scanner and the route table parser never throw', () => {
  assertDecoderSafe(markup, (xml) => xmlElements(xml, 'service'));
  assertDecoderSafe(fc.string({ maxLength: 200 }), (text) => parseDefaultGateway(text));
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), (text) => {
      assert.equal(decodeXmlText(escapeXml(text)), text);
    }),
    { numRuns: Math.min(FUZZ_RUNS, 10_000) },
  );
});
