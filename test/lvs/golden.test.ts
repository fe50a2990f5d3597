/**
 * Golden trees for the five reference scenarios (scenarios 000-004 in docs/scenarios.md): what `obsbuild render` and
 * `obsbuild realserver` write, compared byte for byte. Rewrite with OBSBUILD_UPDATE_GOLDEN=1 and review.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { assertMatchesGolden, sitesDir } from './tree.js';

const scenarios = [
  { name: 'nat-single', seed: '000: NAT, one director, HTTP_GET' },
  { name: 'ipvsadm-nat', seed: '001: NAT with static ipvsadm rules' },
  { name: 'dr-tcp-pair', seed: '003: DR, TCP_CHECK, nopreempt pair with equal priority' },
  { name: 'dr-http-pair', seed: '004: DR, HTTP_GET /index.html, rr, persistence 50, MASTER 100 / BACKUP 50, notify' },
];

async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-golden-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

for (const { name, seed } of scenarios) {
  test(`render ${name} matches the golden tree — seed ${seed}`, async () => {
    await withTmp(async (tmp) => {
      const out = join(tmp, 'out');
      const r = await runCli(['render', '--site', join(sitesDir, `${name}.yaml`), '--out', out]);
      assert.equal(r.exitCode, 0, String(r.stderr));
      await assertMatchesGolden(out, join(name, 'lenny'));
    });
  });
  if (name === 'ipvsadm-nat') continue; // no keepalived.conf to compare
  test(`render ${name} --dialect modern: keepalived.conf matches the golden file`, async () => {
    await withTmp(async (tmp) => {
      const out = join(tmp, 'out');
      const r = await runCli(['render', '--site', join(sitesDir, `${name}.yaml`), '--dialect', 'modern', '--out', out]);
      assert.equal(r.exitCode, 0, String(r.stderr));
      await assertMatchesGolden(out, join(name, 'modern'), (p) => p.endsWith('keepalived.conf'));
    });
  });
}

for (const name of ['nat-single', 'dr-tcp-pair', 'dr-http-pair']) {
  test(`realserver ${name} matches the golden tree — real-server side settings`, async () => {
    await withTmp(async (tmp) => {
      const out = join(tmp, 'rs');
      const r = await runCli(['realserver', '--site', join(sitesDir, `${name}.yaml`), '--out', out]);
      assert.equal(r.exitCode, 0, String(r.stderr));
      await assertMatchesGolden(out, join('realserver', name));
    });
  });
}

test('render writes notify.sh executable (0755) and configuration files 0644', async () => {
  await withTmp(async (tmp) => {
    const out = join(tmp, 'out');
    const r = await runCli(['render', '--site', join(sitesDir, 'dr-http-pair.yaml'), '--node', 'master', '--out', out]);
    assert.equal(r.exitCode, 0, String(r.stderr));
    assert.equal((await stat(join(out, 'etc/keepalived/notify.sh'))).mode & 0o777, 0o755);
    assert.equal((await stat(join(out, 'etc/keepalived/keepalived.conf'))).mode & 0o777, 0o644);
  });
});
