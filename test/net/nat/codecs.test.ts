import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPublicIpv4 } from '../../../src/net/nat/address.js';
import { NatReplyError } from '../../../src/net/nat/errors.js';
import { parseDefaultGateway } from '../../../src/net/nat/gateway.js';
import { parseDeviceDescription, parseSoapReply, soapCall } from '../../../src/net/nat/igd.js';
import {
  decodeNatPmpReply,
  natPmpAddressRequest,
  natPmpMapRequest,
} from '../../../src/net/nat/natpmp.js';
import { parseSsdpAnswer, ssdpSearch } from '../../../src/net/nat/ssdp.js';
import { decodeXmlText, escapeXml, xmlElements, xmlText } from '../../../src/net/nat/xml.js';
import { IGD_V1_DESCRIPTION, IGD_V2_DESCRIPTION } from '../../support/fake-router.js';

test('xmlElements finds elements by local name, with or without a prefix, in order', () => {
  const xml = '<a:root><b>1</b><x:b attr="q">2</x:b><B/><c><b>3</b></c></a:root>';
  assert.deepEqual(xmlElements(xml, 'b'), ['1', '2', '', '3']);
  assert.deepEqual(xmlElements(xml, 'b', 2), ['1', '2']);
  assert.equal(xmlText(xml, 'c'), '<b>3</b>', 'inner markup is kept as written');
  assert.equal(xmlText(xml, 'missing'), undefined);
  assert.deepEqual(xmlElements('<b>unclosed', 'b'), []);
});

test('XML text decodes the predefined entities and character references, nothing else', () => {
  assert.equal(
    decodeXmlText('a &lt;&gt;&amp;&quot;&apos; &#65;&#x42; &custom; &#0;'),
    'a <>&"\' AB &custom; &#0;',
  );
  const doc = '<!DOCTYPE d [<!ENTITY e "boom">]><d><v>&e;&e;</v></d>';
  assert.equal(xmlText(doc, 'v'), '&e;&e;', 'a declared entity is not expanded');
  assert.equal(
    escapeXml(`<a href="x">'&'</a>`),
    '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;',
  );
  assert.equal(decodeXmlText(escapeXml('<"\'&>')), '<"\'&>');
});

test('scanning pathological XML stays linear', () => {
  for (const doc of ['<'.repeat(64 * 1024), '<b>'.repeat(20_000), '<b'.repeat(30_000)]) {
    const started = performance.now();
    xmlElements(doc, 'b');
    assert.ok(performance.now() - started < 2000, `${doc.slice(0, 6)}… took too long`);
  }
});

test('an SSDP search names the group, the discover verb and the search target', () => {
  const text = ssdpSearch('urn:x', 2).toString('latin1');
  assert.equal(
    text,
    'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 2\r\nST: urn:x\r\n\r\n',
  );
});

test('an SSDP answer (as miniupnpd 2.3 sends it) yields its location', () => {
  const answer = Buffer.from(
    'HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n' +
      'ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n' +
      'USN: uuid:3ee1f2b0::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nEXT:\r\n' +
      'SERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\n' +
      'LOCATION: http://10.202.1.1:35831/rootDesc.xml\r\n\r\n',
  );
  const a = parseSsdpAnswer(answer);
  assert.equal(a.location, 'http://10.202.1.1:35831/rootDesc.xml');
  assert.equal(a.searchTarget, 'urn:schemas-upnp-org:device:InternetGatewayDevice:1');
  assert.match(a.server ?? '', /MiniUPnPd/);
  assert.equal(
    parseSsdpAnswer(Buffer.from('HTTP/1.1 200 OK\nlocation: http://1.2.3.4/d\n\n')).location,
    'http://1.2.3.4/d',
  );
  for (const bad of [
    'M-SEARCH * HTTP/1.1\r\nHOST: x\r\n\r\n',
    'HTTP/1.1 404 Not Found\r\nLOCATION: http://1.2.3.4/\r\n\r\n',
    'HTTP/1.1 200 OK\r\nST: x\r\n\r\n',
    'HTTP/1.1 200 OK\r\nLOCATION: file:///etc/passwd\r\n\r\n',
    'HTTP/1.1 200 OK\r\nLOCATION: not a url\r\n\r\n',
    `HTTP/1.1 200 OK\r\nLOCATION: http://1.2.3.4/${'x'.repeat(3000)}\r\n\r\n`,
  ])
    assert.throws(() => parseSsdpAnswer(Buffer.from(bad)), NatReplyError, bad.slice(0, 40));
});

test('a v2 device description yields WANIPConnection:2 and its control URL', () => {
  const c = parseDeviceDescription(IGD_V2_DESCRIPTION, 'http://10.202.1.1:35831/rootDesc.xml');
  assert.deepEqual(c, {
    serviceType: 'urn:schemas-upnp-org:service:WANIPConnection:2',
    controlUrl: 'http://10.202.1.1:35831/ctl/IPConn',
  });
});

test('a v1 description resolves the control URL against URLBase and prefers IP over PPP', () => {
  const c = parseDeviceDescription(IGD_V1_DESCRIPTION, 'http://192.168.1.1:5000/desc.xml');
  assert.deepEqual(c, {
    serviceType: 'urn:schemas-upnp-org:service:WANIPConnection:1',
    controlUrl: 'http://192.168.1.1:5000/upnp/control/WANIPConn1',
  });
});

test('a description may not send control requests to another host, nor lack the service', () => {
  const elsewhere = IGD_V2_DESCRIPTION.replace('/ctl/IPConn', 'http://203.0.113.9/ctl');
  assert.throws(() => parseDeviceDescription(elsewhere, 'http://10.202.1.1:35831/d.xml'), /not on/);
  const none = IGD_V2_DESCRIPTION.replaceAll('WANIPConnection', 'Nothing');
  assert.throws(() => parseDeviceDescription(none, 'http://10.202.1.1:35831/d.xml'), NatReplyError);
  assert.throws(
    () => parseDeviceDescription(`<r>${' '.repeat(70_000)}</r>`, 'http://10.0.0.1/d.xml'),
    NatReplyError,
  );
});

test('a SOAP call carries the service type, the action and escaped arguments', () => {
  const call = soapCall('urn:schemas-upnp-org:service:WANIPConnection:1', 'AddPortMapping', [
    ['NewExternalPort', 6881],
    ['NewPortMappingDescription', 'shoal <&>'],
  ]);
  assert.equal(call.soapAction, '"urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping"');
  const body = call.body.toString('utf8');
  assert.match(
    body,
    /<s:Body><u:AddPortMapping xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1">/,
  );
  assert.match(
    body,
    /<NewExternalPort>6881<\/NewExternalPort><NewPortMappingDescription>shoal &lt;&amp;&gt;<\/NewPortMappingDescription>/,
  );
});

test('SOAP replies: out-arguments, UPnP faults, and neither', () => {
  const ok = parseSoapReply(
    '<?xml version="1.0"?><s:Envelope><s:Body><u:GetExternalIPAddressResponse xmlns:u="x"><NewExternalIPAddress>100.128.0.1</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>',
    'GetExternalIPAddress',
    ['NewExternalIPAddress'],
  );
  assert.deepEqual(ok, { ok: true, values: new Map([['NewExternalIPAddress', '100.128.0.1']]) });
  const fault = parseSoapReply(
    '<s:Envelope><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>718</errorCode><errorDescription>ConflictInMappingEntry</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>',
    'AddPortMapping',
  );
  assert.deepEqual(fault, { ok: false, errorCode: 718, description: 'ConflictInMappingEntry' });
  assert.throws(() => parseSoapReply('<html>no</html>', 'AddPortMapping'), NatReplyError);
});

test('NAT-PMP requests are the bytes of RFC 6886 §3.2 and §3.3', () => {
  assert.deepEqual([...natPmpAddressRequest()], [0, 0]);
  assert.deepEqual(
    [...natPmpMapRequest('tcp', 6881, 6882, 7200)],
    [0, 2, 0, 0, 0x1a, 0xe1, 0x1a, 0xe2, 0, 0, 0x1c, 0x20],
  );
  assert.deepEqual([...natPmpMapRequest('udp', 1, 0, 0)], [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
});

test('NAT-PMP replies decode; malformed ones are refused', () => {
  assert.deepEqual(decodeNatPmpReply(Buffer.from([0, 128, 0, 0, 0, 0, 1, 0, 100, 128, 0, 1])), {
    op: 'address',
    result: 0,
    epochSeconds: 256,
    externalAddress: '100.128.0.1',
  });
  const map = Buffer.from([0, 130, 0, 0, 0, 0, 0, 9, 0x1a, 0xe1, 0x1a, 0xe2, 0, 0, 0x0e, 0x10]);
  assert.deepEqual(decodeNatPmpReply(map), {
    op: 'tcp',
    result: 0,
    epochSeconds: 9,
    internalPort: 6881,
    externalPort: 6882,
    lifetimeSeconds: 3600,
  });
  assert.equal(decodeNatPmpReply(Buffer.from([0, 129, 0, 2])).result, 2, 'a short error reply');
  for (const bad of [
    [0, 128, 0],
    [1, 128, 0, 0],
    [0, 2, 0, 0],
    [0, 131, 0, 0],
    [0, 130, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4],
  ])
    assert.throws(() => decodeNatPmpReply(Buffer.from(bad)), NatReplyError, bad.join(','));
});

test('the default gateway is read from /proc/net/route (lowest metric, up and gatewayed)', () => {
  const table =
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' +
    'eth1\t00000000\t0202A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n' +
    'eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n' +
    'eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n' +
    'eth2\t00000000\t0303A8C0\t0002\t0\t0\t1\t00000000\t0\t0\t0\n';
  assert.equal(parseDefaultGateway(table), '192.168.1.1');
  assert.equal(parseDefaultGateway(table.split('\n').slice(0, 1).join('\n')), undefined);
  assert.equal(parseDefaultGateway('garbage'), undefined);
});

test('public IPv4 addresses are told from private, shared and reserved ones', () => {
  for (const a of ['100.128.0.1', '8.8.8.8', '192.0.3.1', '1.1.1.1', '198.20.0.1'])
    assert.equal(isPublicIpv4(a), true, a);
  for (const a of [
    '10.0.0.1',
    '100.64.0.1',
    '127.0.0.1',
    '169.254.1.1',
    '172.16.0.1',
    '192.168.0.1',
    '198.51.100.7',
    '203.0.113.1',
    '224.0.0.1',
    '255.255.255.255',
    '0.0.0.0',
    '1.2.3',
    '::1',
    '256.1.1.1',
  ])
    assert.equal(isPublicIpv4(a), false, a);
});
