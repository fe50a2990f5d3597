import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot, runCli } from '../helpers/cli.js';
import { PtyPair } from '../console/simulator.js';
import { assertOneLine, siteDir } from './cli-fixture.js';

/** A folder of someone else's files, and a check that it is still exactly that. */
async function foreignDir(path: string): Promise<() => Promise<void>> {
  await mkdir(path, { recursive: true });
  await writeFile(join(path, 'notes.txt'), 'mine\n');
  return async () => assert.deepEqual(await readdir(path), ['notes.txt']);
}

test('init --site DIR --force refuses a directory instead of replacing it with the site file', async () => {
  const { dir } = await siteDir('out-init');
  try {
    const unchanged = await foreignDir(join(dir, 'conf'));
    const r = await runCli(['init', '--site', 'conf', '--force'], { cwd: dir });
    assertOneLine(r, 1, 'obsbuild: conf: is a directory; --site names a file');
    await unchanged();
    // A regular file is still replaced, as --force says.
    await writeFile(join(dir, 'old.yaml'), 'old\n');
    assert.equal((await runCli(['init', '--site', 'old.yaml', '--force'], { cwd: dir })).exitCode, 0);
    assert.match(await readFile(join(dir, 'old.yaml'), 'utf8'), /^# obsbuild site file/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('image --out D refuses a D/<hostname>/ it never wrote, before the build starts', async () => {
  const { dir, site } = await siteDir('out-image');
  try {
    const unchanged = await foreignDir(join(dir, 'D', 'obs600'));
    // --inputs names nothing: the build would fail at its inputs step, so the refusal must come first.
    const r = await runCli(['image', '--site', site, '--inputs', join(dir, 'no-inputs'), '--out', 'D'], { cwd: dir });
    assertOneLine(r, 1, 'obsbuild: D/obs600: directory is not empty and was not written by obsbuild image');
    await unchanged();
    // An earlier build's folder (it has a manifest.json) passes the check: the build goes on to its inputs.
    await writeFile(join(dir, 'D', 'obs600', 'manifest.json'), '{}\n');
    await rm(join(dir, 'D', 'obs600', 'notes.txt'));
    const again = await runCli(['image', '--site', site, '--inputs', join(dir, 'no-inputs'), '--out', 'D'], { cwd: dir });
    assert.equal(again.exitCode, 1);
    assert.match(String(again.stderr), /no-inputs/);
    assert.deepEqual(await readdir(join(dir, 'D', 'obs600')), ['manifest.json']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('render and realserver refuse a symbolic link, a device and a file as --out; the link target is untouched', async () => {
  const { dir, site } = await siteDir('out-render');
  try {
    const unchanged = await foreignDir(join(dir, 'real'));
    const { symlink } = await import('node:fs/promises');
    await symlink('real', join(dir, 'link'));
    for (const cmd of ['render', 'realserver']) {
      assertOneLine(await runCli([cmd, '--site', site, '--out', 'link'], { cwd: dir }), 1, 'obsbuild: link: is a symbolic link');
      assertOneLine(await runCli([cmd, '--site', site, '--out', '/dev/null'], { cwd: dir }), 1, 'obsbuild: /dev/null: is a character device');
    }
    await unchanged();
    // An earlier render's folder is replaced as before.
    assert.equal((await runCli(['render', '--site', site, '--out', 'r'], { cwd: dir })).exitCode, 0);
    assert.equal((await runCli(['render', '--site', site, '--out', 'r'], { cwd: dir })).exitCode, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('console checks --json and --log before it starts following the box', async () => {
  const { dir, site } = await siteDir('out-console');
  const pair = new PtyPair(join(dir, 'console.pty'), join(dir, 'board.pty'));
  await pair.start();
  try {
    const keepJson = await foreignDir(join(dir, 'report'));
    const base = ['console', '--port', pair.consolePath, '--site', site, '--from', 'login', '--check', '--budget', 'login=3'];
    const started = Date.now();
    const r = await runCli([...base, '--json', 'report', '--log', 'c.log'], { cwd: dir, timeout: 30_000 });
    assertOneLine(r, 1, 'obsbuild: report: is a directory; --json names a file');
    await keepJson();
    const r2 = await runCli([...base, '--log', 'report'], { cwd: dir, timeout: 30_000 });
    assertOneLine(r2, 1, 'obsbuild: report: is a directory; --log names a file');
    await keepJson();
    assert.ok(Date.now() - started < 3000 * 2, 'refused without waiting for the login budget');
    assert.equal(existsSync(join(dir, 'c.log')) || existsSync(join(dir, 'c.log.partial')), false);
  } finally {
    await pair.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('--json may not replace a file the same run reads (the site file, the inventory)', async () => {
  const { mkdtemp, rm, copyFile, readFile: read } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join: j } = await import('node:path');
  const { runCli: run } = await import('../helpers/cli.js');
  const { DEFAULT_VOBS_SITE } = await import('../../src/vobs/flow.js');
  const dir = await mkdtemp(j(tmpdir(), 'obsbuild-json-input-'));
  try {
    const site = j(dir, 'site.yaml');
    await copyFile(DEFAULT_VOBS_SITE, site);
    const before = await read(site, 'utf8');
    for (const args of [
      ['verify', '--site', site, '--host', '127.0.0.1:1', '--json', site],
      ['apply', '--site', site, '--host', '127.0.0.1:1', '--yes', '--json', site],
      ['console', '--site', site, '--port', 'tcp://127.0.0.1:1', '--json', site, '--log', j(dir, 'c.log')],
    ]) {
      const r = await run(args);
      assert.equal(r.exitCode, 1, `${args[0]}: ${r.stderr}`);
      assert.match(String(r.stderr), /is .*site\.yaml, which this run reads; choose another --json file/);
    }
    assert.equal(await read(site, 'utf8'), before, 'the site file is untouched');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('console --out naming a device says what it is; a serial port that cannot be opened is one line without "Error:"', async () => {
  const out = await runCli(['console', '--port', '/nonexistent-tty', '--out', '/dev/null', '--from', 'login']);
  assertOneLine(out, 1, /^obsbuild: \/dev\/null\/.*: \/dev\/null is a character device, not a directory$/);
  const port = await runCli(['verify', '--site', join(repoRoot, 'test/fixtures/sites/nat-single.yaml'), '--port', '/dev/null'], { timeout: 60_000 });
  assert.equal(port.exitCode, 1);
  const last = String(port.stderr).trim().split('\n').pop() ?? '';
  assert.match(last, /^obsbuild: \/dev\/null: cannot open the serial port: /);
  assert.doesNotMatch(last, /Error:/);
});
