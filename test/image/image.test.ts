import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { parseBlockMap } from '../../src/contracts/block-map.js';
import { imageArgs, makeWorkspace, SITE_PAIR, withExtractedOverlay } from './fixtures.js';
import type { Manifest } from '../../src/contracts/manifest.js';

const run = promisify(execFile);
const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

/** Every file under dir (relative path → sha256), symlinks as their target. */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(d: string) {
    for (const name of (await readdir(d)).sort()) {
      const full = join(d, name);
      const st = await lstat(full);
      if (st.isDirectory()) await walk(full);
      else if (st.isSymbolicLink()) out[relative(dir, full)] = `-> ${await readlink(full)}`;
      else out[relative(dir, full)] = await sha256(full);
    }
  }
  await walk(dir);
  return out;
}


test('obsbuild image: layout, inputs byte for byte, manifest, overlay contents, SHA256SUMS', async () => {
  const ws = await makeWorkspace();
  try {
    const r = await runCli([...imageArgs(ws), '--json']);
    assert.equal(r.exitCode, 0, String(r.stderr));
    const summary = JSON.parse(String(r.stdout)) as { outputs: { hostname: string; dir: string; manifestId: string }[]; packages: { name: string }[] };
    assert.deepEqual(summary.outputs.map((o) => o.hostname), ['obs600']);
    assert.deepEqual(await readdir(ws.out), ['obs600'], 'nothing else (no temp folders) in out/');
    const dir = join(ws.out, 'obs600');
    const msf = join(dir, 'stick/msf');
    for (const name of ['lenny-powerpc-obs600-20100119-00.tar.gz', 'uImage.initrd-cfboot', 'kern.tgz']) {
      assert.equal(await sha256(join(msf, name)), await sha256(join(ws.inputs, name)), `${name} copied byte for byte`);
    }
    assert.deepEqual(Object.keys(await tree(dir)).sort(), [
      'SHA256SUMS',
      'manifest.json',
      'stick.img',
      'stick.img.bmap',
      'stick/msf/MD5SUMS',
      'stick/msf/kern.tgz',
      'stick/msf/lenny-powerpc-obs600-20100119-00.tar.gz',
      'stick/msf/msf_init.sh',
      'stick/msf/obsbuild-overlay.tgz',
      'stick/msf/uImage.initrd-cfboot',
    ]);
    await run('md5sum', ['--check', '--strict', '--quiet', 'MD5SUMS'], { cwd: msf });
    assert.equal((await stat(join(msf, 'msf_init.sh'))).mode & 0o777, 0o755);
    await run('sha256sum', ['--check', '--strict', '--quiet', 'SHA256SUMS'], { cwd: dir });
    const sums = await readFile(join(dir, 'SHA256SUMS'), 'utf8');
    assert.deepEqual(
      sums.trimEnd().split('\n').map((l) => l.split('  ')[1]),
      Object.keys(await tree(dir)).filter((p) => p !== 'SHA256SUMS').sort(),
      'SHA256SUMS lists every file of the output',
    );

    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    assert.match(manifest.id, /^[0-9a-f]{16}$/);
    assert.equal(manifest.id, summary.outputs[0].manifestId);
    assert.equal(manifest.site.sha256, await sha256(ws.site));
    assert.equal(manifest.obsbuild, JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')).version);
    assert.equal(manifest.sourceDateEpoch, Date.UTC(2010, 0, 19) / 1000, 'no SOURCE_DATE_EPOCH: the date in the rootfs name');
    assert.deepEqual(manifest.inputs.map((i) => [i.role, i.version]), [['kernel', '2.6.29-obs600'], ['modules', '2.6.29-obs600'], ['rootfs', '5.0.3']]);
    for (const input of manifest.inputs) assert.equal(input.sha256, await sha256(join(ws.inputs, input.name)));
    assert.deepEqual(manifest.packages.map((p) => `${p.name} ${p.version}`), ['ipvsadm 1:1.24-2.1', 'keepalived 1.1.15-1', 'libpopt0 1.14-4']);
    for (const p of manifest.packages) assert.equal(p.sha256, await sha256(join(ws.packages, p.filename)), `${p.name} sha256`);
    const overlayOut = manifest.outputs.find((o) => o.path === 'stick/msf/obsbuild-overlay.tgz');
    assert.equal(overlayOut?.sha256, await sha256(join(msf, 'obsbuild-overlay.tgz')));
    assert.ok(manifest.config.some((f) => f.path === '/etc/keepalived/keepalived.conf' && f.sha256?.length === 64));
    assert.ok(manifest.generated.some((f) => f.path === '/etc/init.d/obsbuild-firstboot'));
    assert.match(await readFile(join(msf, 'msf_init.sh'), 'utf8'), new RegExp(manifest.id), 'the installer announces the same manifest id');
    const bmap = parseBlockMap(await readFile(join(dir, 'stick.img.bmap'), 'utf8'));
    assert.ok('map' in bmap && bmap.map.imageSize === (await stat(join(dir, 'stick.img'))).size, 'stick.img.bmap describes stick.img');
    assert.equal(manifest.outputs.find((o) => o.path === 'stick.img')?.sha256, await sha256(join(dir, 'stick.img')));
    assert.deepEqual(manifest.outputs.map((o) => o.path), [
      'stick.img', 'stick.img.bmap', 'stick/msf/MD5SUMS', 'stick/msf/kern.tgz',
      'stick/msf/lenny-powerpc-obs600-20100119-00.tar.gz', 'stick/msf/msf_init.sh', 'stick/msf/obsbuild-overlay.tgz',
      'stick/msf/uImage.initrd-cfboot',
    ]);
    for (const o of manifest.outputs) assert.equal(o.sha256, await sha256(join(dir, o.path)), o.path);

    await withExtractedOverlay(join(msf, 'obsbuild-overlay.tgz'), async (root) => {
      assert.equal(await readFile(join(root, 'etc/obsbuild/manifest-id'), 'utf8'), `${manifest.id}\n`);
      assert.match(await readFile(join(root, 'etc/init.d/obsbuild-firstboot'), 'utf8'), new RegExp(`MANIFEST_ID='${manifest.id}'`));
      assert.equal(await readlink(join(root, 'etc/rc2.d/S99obsbuild-firstboot')), '../init.d/obsbuild-firstboot');
      const shadow = await stat(join(root, 'etc/shadow'));
      assert.equal(shadow.mode & 0o7777, 0o640);
      assert.equal(shadow.gid, 42);
      assert.match(await readFile(join(root, 'etc/shadow'), 'utf8'), /^root:\$1\$fixture\$7sa4GtBomJXmarYg\/KhNO\/:/m);
      assert.match(await readFile(join(root, 'var/lib/dpkg/status'), 'utf8'), /Package: keepalived\nStatus: install ok unpacked\n/);
      assert.match(await readFile(join(root, 'var/lib/obsbuild/debconf-selections'), 'utf8'), /ipvsadm ipvsadm\/auto_load_rules boolean false/);
      assert.match(await readFile(join(root, 'etc/keepalived/keepalived.conf'), 'utf8'), /virtual_server 192\.168\.253\.120 80/);
      assert.equal((await stat(join(root, 'usr/sbin/keepalived'))).mode & 0o777, 0o755);
    });
  } finally {
    await ws.cleanup();
  }
});

test('two builds from the same inputs are byte-identical; SOURCE_DATE_EPOCH sets every timestamp', async () => {
  const ws = await makeWorkspace();
  try {
    const outA = join(ws.root, 'a');
    const outB = join(ws.root, 'b');
    for (const out of [outA, outB]) {
      const r = await runCli([...imageArgs(ws), '--out', out]);
      assert.equal(r.exitCode, 0, String(r.stderr));
    }
    const a = await tree(outA);
    assert.ok(Object.keys(a).length >= 6, JSON.stringify(a));
    assert.deepEqual(await tree(outB), a);

    const outC = join(ws.root, 'c');
    const c = await runCli([...imageArgs(ws), '--out', outC], { env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
    assert.equal(c.exitCode, 0, String(c.stderr));
    const manifest = JSON.parse(await readFile(join(outC, 'obs600/manifest.json'), 'utf8')) as Manifest;
    assert.equal(manifest.sourceDateEpoch, 1700000000);
    assert.notEqual(manifest.id, JSON.parse(await readFile(join(outA, 'obs600/manifest.json'), 'utf8')).id);
    const { stdout } = await run('tar', ['-tvzf', join(outC, 'obs600/stick/msf/obsbuild-overlay.tgz'), '--utc']);
    const dates = new Set(String(stdout).trimEnd().split('\n').map((l) => l.split(/\s+/).slice(3, 5).join(' ')));
    assert.deepEqual([...dates], ['2023-11-14 22:13']);
    assert.equal((await stat(join(outC, 'obs600/manifest.json'))).mtimeMs, 1700000000 * 1000);
  } finally {
    await ws.cleanup();
  }
});

test('an HA pair builds one output per node; --node builds one', async () => {
  const ws = await makeWorkspace({ site: SITE_PAIR });
  try {
    const usage = await runCli([...imageArgs(ws), '--stick-dir', join(ws.root, 'mnt')]);
    assert.equal(usage.exitCode, 2, 'one stick per appliance: --stick-dir needs --node for a pair');
    assert.match(String(usage.stderr), /--node master or --node backup/);
    assert.deepEqual(await readdir(ws.out).catch(() => []), [], 'refused before building anything');
    // a folder that is no stick's mount point is refused before the build too, not after it
    const notAStick = await runCli([...imageArgs(ws), '--node', 'master', '--stick-dir', ws.root]);
    assert.equal(notAStick.exitCode, 1);
    assert.match(String(notAStick.stderr), /not the mount point of a stick/);
    assert.deepEqual(await readdir(ws.out).catch(() => []), [], 'refused before building anything');
    const r = await runCli(imageArgs(ws));
    assert.equal(r.exitCode, 0, String(r.stderr));
    assert.deepEqual((await readdir(ws.out)).sort(), ['lvs-master', 'lvs-slave']);
    const ids = new Set<string>();
    for (const [host, state] of [['lvs-master', 'MASTER'], ['lvs-slave', 'BACKUP']]) {
      const manifest = JSON.parse(await readFile(join(ws.out, host, 'manifest.json'), 'utf8')) as Manifest;
      assert.equal(manifest.node.hostname, host);
      ids.add(manifest.id);
      await withExtractedOverlay(join(ws.out, host, 'stick/msf/obsbuild-overlay.tgz'), async (root) => {
        assert.equal(await readFile(join(root, 'etc/hostname'), 'utf8'), `${host}\n`);
        assert.match(await readFile(join(root, 'etc/keepalived/keepalived.conf'), 'utf8'), new RegExp(`state ${state}`));
      });
    }
    assert.equal(ids.size, 2, 'each node has its own manifest id');

    const only = join(ws.root, 'only');
    assert.equal((await runCli([...imageArgs(ws), '--out', only, '--node', 'backup'])).exitCode, 0);
    assert.deepEqual(await readdir(only), ['lvs-slave']);
  } finally {
    await ws.cleanup();
  }
});

test('a failed build leaves the previous output untouched and no temporary folders', async () => {
  const ws = await makeWorkspace();
  try {
    const first = await runCli(imageArgs(ws));
    assert.equal(first.exitCode, 0, String(first.stderr));
    const before = await tree(ws.out);
    // The stock root/root password is refused while the node's configuration is rendered, after its
    // output folder was staged: the staged folder must go, the old output must stay.
    const text = await readFile(ws.site, 'utf8');
    await writeFile(ws.site, text.replace(/password_hash: ".*"/, 'password_hash: "$1$afC9J.v6$Dkq.k8sVRq7n0Py5eWWAp1"'));
    const r = await runCli(imageArgs(ws));
    assert.equal(r.exitCode, 1);
    const lines = String(r.stderr).trimEnd().split('\n');
    assert.equal(lines.length, 1, String(r.stderr));
    assert.match(lines[0], new RegExp(`^obsbuild: ${ws.site}:\\d+: root\\.password_hash is the stock root/root password`));
    assert.deepEqual(await tree(ws.out), before);
    assert.deepEqual(await readdir(ws.out), ['obs600']);
  } finally {
    await ws.cleanup();
  }
});
