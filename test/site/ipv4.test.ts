import { test } from 'node:test';
import assert from 'node:assert/strict';
import { netmask, prefixOfNetmask } from '../../src/site/ipv4.js';

test('netmask and prefix length convert both ways', () => {
  assert.equal(prefixOfNetmask('255.255.255.255'), 32);
  assert.equal(prefixOfNetmask('255.255.255.0'), 24);
  assert.equal(prefixOfNetmask('255.255.240.0'), 20);
  assert.equal(prefixOfNetmask('0.0.0.0'), 0);
  for (let prefix = 0; prefix <= 32; prefix++) assert.equal(prefixOfNetmask(netmask(prefix)), prefix);
});

test('address kinds: the special-purpose ranges a host address must avoid', async () => {
  const { addressKind, rangeOf } = await import('../../src/site/ipv4.js');
  const cases: [string, string][] = [
    ['192.168.253.120', 'unicast'],
    ['1.0.0.0', 'unicast'],
    ['126.255.255.255', 'unicast'],
    ['223.255.255.255', 'unicast'],
    ['169.254.1.1', 'unicast'],
    ['0.0.0.0', 'this-network'],
    ['0.255.255.255', 'this-network'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['224.0.0.18', 'multicast'],
    ['239.255.255.255', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.254', 'reserved'],
    ['255.255.255.255', 'broadcast'],
  ];
  for (const [address, kind] of cases) assert.equal(addressKind(address), kind, address);
  assert.equal(rangeOf('multicast'), '224.0.0.0/4');
});

test('subnet edges: network and broadcast addresses, none for /31 and /32', async () => {
  const { subnetEdge, isNetworkOrBroadcast } = await import('../../src/site/ipv4.js');
  assert.equal(subnetEdge('192.168.253.0', 24), 'network');
  assert.equal(subnetEdge('192.168.253.255', 24), 'broadcast');
  assert.equal(subnetEdge('192.168.253.254', 24), undefined);
  assert.equal(subnetEdge('172.16.127.255', 18), 'broadcast');
  assert.equal(subnetEdge('172.16.64.0', 18), 'network');
  assert.equal(subnetEdge('10.0.0.0', 31), undefined);
  assert.equal(subnetEdge('10.0.0.1', 32), undefined);
  assert.equal(subnetEdge('not an address', 24), undefined);
  assert.equal(isNetworkOrBroadcast({ address: '10.1.2.255', prefix: 24 }), true);
  assert.equal(isNetworkOrBroadcast({ address: '10.1.2.3', prefix: 24 }), false);
});
