import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { floatingAddresses, haHolding, verifyHaPair } from '../../src/daytwo/ha.js';
import { loadSite } from '../../src/site/load.js';
import { repoRoot } from '../helpers/cli.js';

const pairSite = async () => {
  const loaded = await loadSite(join(repoRoot, 'test/fixtures/sites/dr-http-pair.yaml'));
  loaded.site.lvs.vrrp!.inside_address = '172.16.14.250/24';
  return loaded.site;
};
const addr = (...a: string[]) => a.map((x, i) => `2: eth${i}    inet ${x} scope global eth${i}`).join('\n') + '\n';

test('the floating addresses are the virtual server addresses and the inside address; a single director has none', async () => {
  const site = await pairSite();
  assert.deepEqual(floatingAddresses(site), ['172.16.80.100', '172.16.14.250']);
  const single = await loadSite(join(repoRoot, 'test/fixtures/sites/nat-single.yaml'));
  assert.deepEqual(floatingAddresses(single.site), []);
});

test('verifyHaPair: exactly one node holding every floating address passes; both, neither or a split fails', async () => {
  const site = await pairSite();
  const master = { role: 'master' as const, hostname: 'lvs-master' };
  const backup = { role: 'backup' as const, hostname: 'lvs-slave' };
  const all = addr('172.16.80.81/18', '172.16.80.100/32', '172.16.14.250/24');
  const none = addr('172.16.80.82/18');
  const pair = (m: string, b: string) => verifyHaPair([{ ha: haHolding(site, master, m) }, { ha: haHolding(site, backup, b) }]);

  let r = pair(all, none);
  assert.equal(r.status, 'pass');
  assert.equal(r.evidence, 'lvs-master (master) holds 172.16.80.100, 172.16.14.250; lvs-slave holds none');
  assert.equal(pair(none, all).status, 'pass', 'after a failover the backup holds them');

  r = pair(all, addr('172.16.80.82/18', '172.16.80.100/32'));
  assert.equal(r.status, 'fail');
  assert.match(r.evidence, /172\.16\.80\.100 is on both nodes \(lvs-master, lvs-slave\): split brain/);

  r = pair(none, none);
  assert.equal(r.status, 'fail');
  assert.match(r.evidence, /172\.16\.80\.100 is on neither node; 172\.16\.14\.250 is on neither node/);

  r = pair(addr('172.16.80.100/32'), addr('172.16.14.250/24'));
  assert.equal(r.status, 'fail');
  assert.match(r.evidence, /spread over lvs-master and lvs-slave/);

  assert.equal(verifyHaPair([{ ha: haHolding(site, master, all) }]).status, 'skip');
  assert.equal(verifyHaPair([{ ha: haHolding(site, master, all) }, { ha: haHolding(site, master, none) }]).status, 'skip');
  assert.equal(verifyHaPair([{ ha: null }, { ha: null }]).status, 'skip');
});
