/**
 * `obsbuild vm` refuses what cannot work before the long part: the stand-in inputs (minutes on a fresh cache)
 * and the boards are never started for a site of another board or a console server that is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, runCli } from '../helpers/cli.js';

async function withEmptyCache(fn: (env: NodeJS.ProcessEnv, cache: string, work: string) => Promise<void>): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'obsbuild-vm-cli-'));
  try {
    const cache = join(work, 'cache');
    await fn({ ...process.env, XDG_CACHE_HOME: cache, OBSBUILD_KEEPALIVED_115_SOURCE: '' }, cache, work);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

test('vm --site with a site for another board is refused at once, naming the file, before any stand-in input is made', async () => {
  await withEmptyCache(async (env, cache, work) => {
    const site = join(repoRoot, 'test/fixtures/sites/nat-single.yaml');
    const r = await runCli(['vm', '--keepalived', 'debian', '--site', site, '--out', join(work, 'out')], { env, timeout: 60_000 });
    assert.equal(r.exitCode, 1, String(r.stderr));
    assert.match(String(r.stderr).trim(), /nat-single\.yaml: board is obs600; obsbuild vm needs a site file with "board: vobs"$/);
    assert.doesNotMatch(String(r.stderr), /stand-in/);
    assert.deepEqual(await readdir(cache).catch(() => []), [], 'nothing was built into the cache');
  });
});

test('vm --console-server without ser2net installed is refused at once, naming what to install', async () => {
  await withEmptyCache(async (env, cache, work) => {
    // a PATH without ser2net (it lives in /usr/sbin)
    const r = await runCli(['vm', '--keepalived', 'debian', '--console-server', 'tcp', '--out', join(work, 'out')], { env: { ...env, PATH: '/nonexistent' }, timeout: 60_000 });
    assert.equal(r.exitCode, 1, String(r.stderr));
    assert.match(String(r.stderr).trim(), /--console-server needs ser2net, which is not installed \(apt-get install ser2net\)$/);
    assert.deepEqual(await readdir(cache).catch(() => []), [], 'nothing was built into the cache');
  });
});
