import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIpvsadmStats } from '../../src/console/box-output.js';

test('ipvsadm --stats --exact: each service with its counters, real-server lines skipped', () => {
  const out = [
    'IP Virtual Server version 1.2.1 (size=4096)',
    'Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes',
    '  -> RemoteAddress:Port',
    'TCP  192.168.253.120:80                  9       57       41     3780     4532',
    '  -> 172.16.14.121:80                    3       19       14     1260     1511',
    'UDP  192.168.253.120:53                  2        2        0      120        0',
  ].join('\n');
  assert.deepEqual(parseIpvsadmStats(out), [
    { protocol: 'tcp', address: '192.168.253.120', port: 80, connections: 9, inPackets: 57, outPackets: 41 },
    { protocol: 'udp', address: '192.168.253.120', port: 53, connections: 2, inPackets: 2, outPackets: 0 },
  ]);
});
