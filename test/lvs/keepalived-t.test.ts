/**
 * The `modern` rendering of every reference scenario must pass keepalived 2.2's own `keepalived -t`
 * (any non-zero exit fails), and the harness itself must catch a configuration 2.x rejects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSite } from '../../src/site/load.js';
import { siteNodes } from '../../src/site/nodes.js';
import type { NodeRole } from '../../src/site/model.js';
import { renderConfigTree } from '../../src/lvs/render.js';
import { sitesDir } from './tree.js';
import { interfacesNamedIn, keepalivedConfigTest, keepalivedInstalled } from './keepalived-check.js';

// all-features is not a seed: it walks every renderer branch (schedulers, NAT/DR/TUN, checks, sorry server, UDP).
const KEEPALIVED_SCENARIOS = ['nat-single', 'dr-tcp-pair', 'dr-http-pair', 'all-features'];

async function keepalivedConf(scenario: string, dialect: 'lenny' | 'modern'): Promise<{ node: string; conf: string }[]> {
  const { site } = await loadSite(join(sitesDir, `${scenario}.yaml`));
  return siteNodes(site).map((n) => {
    const files = renderConfigTree(site, { node: n.role === 'single' ? undefined : (n.role as NodeRole), dialect });
    const conf = files.find((f) => f.path === '/etc/keepalived/keepalived.conf');
    assert.ok(conf, `${scenario}: no keepalived.conf rendered`);
    return { node: n.hostname, conf: String(conf.content) };
  });
}

async function configTest(conf: string, interfaces = interfacesNamedIn(conf)) {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-kt-'));
  try {
    const file = join(dir, 'keepalived.conf');
    await writeFile(file, conf);
    assert.equal(await readFile(file, 'utf8'), conf);
    return await keepalivedConfigTest(file, interfaces);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('keepalived 2.x is installed (.ci/run installs Debian\'s keepalived package)', async () => {
  assert.ok(await keepalivedInstalled(), 'keepalived not found at /usr/sbin/keepalived: apt-get install keepalived');
});

for (const scenario of KEEPALIVED_SCENARIOS) {
  test(`keepalived -t accepts the modern rendering of ${scenario} (every node)`, async () => {
    for (const { node, conf } of await keepalivedConf(scenario, 'modern')) {
      const r = await configTest(conf);
      assert.equal(r.exitCode, 0, `${scenario}/${node}: keepalived -t exited ${r.exitCode}${r.exitCode === 143 ? ' (keepalived 2.2.7 bug #2587)' : ''}:\n${r.output}`);
    }
  });
}

test('the harness fails a configuration keepalived 2.x rejects (lenny nb_get_retry: exit 5)', async () => {
  const [{ conf }] = await keepalivedConf('nat-single', 'lenny');
  assert.match(conf, /nb_get_retry/);
  const r = await configTest(conf);
  assert.notEqual(r.exitCode, 0);
  assert.match(r.output, /nb_get_retry/);
});

test('the harness fails a configuration whose interface is missing from the namespace', async () => {
  const [{ conf }] = await keepalivedConf('dr-http-pair', 'modern');
  const onEth7 = conf.replace('interface eth0', 'interface eth7');
  assert.deepEqual(interfacesNamedIn(onEth7), ['eth0', 'eth7']);
  assert.equal((await configTest(onEth7)).exitCode, 0, 'with eth7 created the file is valid');
  const r = await configTest(onEth7, ['eth0', 'eth1']);
  assert.notEqual(r.exitCode, 0, r.output);
});
