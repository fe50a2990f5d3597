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
