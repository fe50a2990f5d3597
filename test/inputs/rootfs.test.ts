import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, truncate, stat, rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { runCli } from '../helpers/cli.js';
import { assertOneLineError, copyOf, standinDir } from '../fixtures/inputs/standin.js';
import { inspectRootfs, resolveInArchive, STOCK_ROOT_HASH, suiteOfDebianVersion } from '../../src/inputs/rootfs.js';
import { normalizeTarPath } from '../../src/archive/path-safety.js';
import { UserError } from '../../src/util/errors.js';
import type { StandinFiles } from '../fixtures/inputs/make-standin-inputs.js';

let good: Awaited<ReturnType<typeof standinDir>>;
const cleanups: Array<() => Promise<void>> = [];

before(async () => {
  good = await standinDir();
  cleanups.push(good.cleanup);
});
after(async () => {
  for (const c of cleanups) await c();
});

async function damaged(patch: (files: StandinFiles) => Promise<void>) {
  const bad = await copyOf(good);
  cleanups.push(bad.cleanup);
  await patch(bad);
  return bad;
}

async function variant(opts: Parameters<typeof standinDir>[0]) {
  const v = await standinDir(opts);
  cleanups.push(v.cleanup);
  return v;
}

const ROOTFS = 'lenny-powerpc-obs600-20100119-00.tar.gz';

test('a good lenny rootfs: version, architecture, /bin/sh ELF, and the captured base files', async () => {
  const r = await inspectRootfs(good.rootfs);
  assert.equal(r.debianVersion, '5.0.3');
  assert.equal(r.suite, 'lenny');
  assert.equal(r.architecture, 'powerpc');
  assert.ok(r.installedPackages >= 30 && r.installedPackages <= 80, `${r.installedPackages} packages`);
  assert.deepEqual(Object.keys(r.dpkgArchitectures).sort(), ['all', 'powerpc']);
  assert.deepEqual(r.shell?.chain, ['bin/sh', 'bin/dash']);
  assert.equal(r.shell?.elf?.machine, 20);
  assert.equal(r.shell?.elf?.bits, 32);
  assert.equal(r.shell?.elf?.endian, 'big');
  assert.equal(r.rootHasStockPassword, true);
  assert.match(r.files.dpkgStatus ?? '', /^Package: dpkg$/m);
  assert.match(r.files.shadow ?? '', new RegExp(`^root:${STOCK_ROOT_HASH.replace(/\$/g, '\\$')}:`, 'm'));
  assert.match(r.files.passwd ?? '', /^root:x:0:0:/m);
  assert.equal(r.files.hostname, 'lenny\n');
  assert.equal(r.files.debianVersion, '5.0.3\n');
  assert.deepEqual(r.warnings, []);
  // sha256 and size are of the file as stored, computed in the same pass.
  const bytes = await readFile(good.rootfs);
  const { createHash } = await import('node:crypto');
  assert.equal(r.sha256, createHash('sha256').update(bytes).digest('hex'));
  assert.equal(r.size, bytes.length);
});

test('truncated gzip: exit 1, one line naming the tarball', async () => {
  const bad = await damaged(async (f) => truncate(f.rootfs, Math.floor((await stat(f.rootfs)).size * 0.6)));
  assertOneLineError(await runCli(['inspect', '--inputs', bad.dir]), ROOTFS, /truncated/);
});

test('corrupt gzip (damaged deflate data): exit 1, one line naming the tarball', async () => {
  const bad = await damaged(async (f) => {
    const b = await readFile(f.rootfs);
    for (let i = 0; i < 64; i++) b[Math.floor(b.length / 2) + i] ^= 0xa5;
    await writeFile(f.rootfs, b);
  });
  assertOneLineError(await runCli(['inspect', '--inputs', bad.dir]), ROOTFS, /corrupt gzip data/);
});

test('corrupt gzip (bad CRC in the trailer): caught at the last byte', async () => {
  const bad = await damaged(async (f) => {
    const b = await readFile(f.rootfs);
    b[b.length - 6] ^= 0xff; // CRC32 is bytes -8..-5
    await writeFile(f.rootfs, b);
  });
  assertOneLineError(await runCli(['inspect', '--inputs', bad.dir]), ROOTFS, /corrupt gzip data/);
});

test('a tar cut short before compression (intact gzip, no end-of-archive marker) is refused', async () => {
  const tarBytes = gunzipSync(await readFile(good.rootfs));
  const bad = await damaged(async (f) => writeFile(f.rootfs, gzipSync(tarBytes.subarray(0, tarBytes.length - 1024))));
  await assert.rejects(inspectRootfs(bad.rootfs), (e: Error) => e instanceof UserError && /end-of-archive marker/.test(e.message));
  const mid = await damaged(async (f) => writeFile(f.rootfs, gzipSync(tarBytes.subarray(0, Math.floor(tarBytes.length / 2) + 100))));
  assertOneLineError(await runCli(['inspect', '--inputs', mid.dir]), ROOTFS, /truncated|end-of-archive/);
});

test('a tar entry escaping the root with ..: exit 1, one line naming the tarball and the entry', async () => {
  const v = await variant({ extraRootfsEntries: [{ name: './etc/../../../etc/cron.d/evil', content: '* * * * * root sh\n' }] });
  assertOneLineError(await runCli(['inspect', '--inputs', v.dir]), ROOTFS, /etc\/cron\.d\/evil.*escapes the archive root/);
});

test('absolute entry names and hard links pointing outside are refused; absolute symlinks are fine', async () => {
  const abs = await variant({ extraRootfsEntries: [{ name: '/etc/evil', content: 'x' }] });
  await assert.rejects(inspectRootfs(abs.rootfs), /"\/etc\/evil" escapes the archive root/);
  const hard = await variant({ extraRootfsEntries: [{ name: './etc/hard', type: 'link', linkname: '../../etc/shadow' }] });
  await assert.rejects(inspectRootfs(hard.rootfs), /hard link to \.\.\/\.\.\/etc\/shadow.*escapes/);
  const sym = await variant({ extraRootfsEntries: [{ name: './etc/mtab', type: 'symlink', linkname: '/proc/mounts' }, { name: './lib/up', type: 'symlink', linkname: '../../..' }] });
  const r = await inspectRootfs(sym.rootfs);
  assert.deepEqual(r.escapes, []);
});

test('a rootfs of another architecture (amd64 status, x86-64 ELF): exit 1, one line with the evidence', async () => {
  const v = await variant({ arch: 'amd64' });
  assertOneLineError(
    await runCli(['inspect', '--inputs', v.dir]),
    ROOTFS,
    /for amd64, not powerpc \(dpkg status: \d+ packages for amd64; \/bin\/dash: ELF 64-bit LSB x86-64\)/,
  );
});

test('an x86-64 /bin/sh target is caught even when the dpkg status says powerpc', async () => {
  const v = await variant({ elfArch: 'amd64' });
  await assert.rejects(inspectRootfs(v.rootfs), /not powerpc \(\/bin\/dash: ELF 64-bit LSB x86-64\)/);
  // With the architecture check off, the facts are still reported.
  const r = await inspectRootfs(v.rootfs, { expectArch: null });
  assert.equal(r.shell?.elf?.machine, 62);
  assert.equal(r.shell?.elf?.debianArch, 'amd64');
});

test('a rootfs of another Debian release than the packages is refused', async () => {
  const v = await variant({ debianVersion: '6.0.1' });
  await assert.rejects(inspectRootfs(v.rootfs), /Debian 6\.0\.1 \(squeeze\), but the packages are for lenny/);
  assert.equal((await inspectRootfs(v.rootfs, { expectSuite: 'squeeze' })).suite, 'squeeze');
});

test('a tarball without a dpkg status is not a Debian rootfs', async () => {
  const { default: tar } = await import('tar-stream');
  const pack = tar.pack();
  pack.entry({ name: './etc/debian_version' }, '5.0.3\n');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  const bad = await damaged(async (f) => writeFile(f.rootfs, gzipSync(Buffer.concat(chunks))));
  await assert.rejects(inspectRootfs(bad.rootfs), /no \/var\/lib\/dpkg\/status: this is not a Debian root filesystem/);
});

test('/bin/sh resolution follows relative, absolute and directory symlinks and hard links', () => {
  const sym = new Map([
    ['bin', 'usr/bin'],
    ['usr/bin/sh', 'dash'],
    ['usr/bin/dash', '/etc/alternatives/dash'],
    ['etc/alternatives/dash', '../../usr/lib/dash-real'],
  ]);
  const hard = new Map([['usr/lib/dash-real', 'usr/lib/dash.bin']]);
  const r = resolveInArchive('bin/sh', sym, hard);
  assert.equal(r?.path, 'usr/lib/dash.bin');
  assert.equal(r?.chain[0], 'bin/sh');
  assert.equal(resolveInArchive('bin/sh', new Map([['bin/sh', 'sh2'], ['bin/sh2', 'sh']]), new Map()), undefined);
});

test('tar path normalisation: ./ prefixes are fine, .. above the root and absolute names are not', () => {
  assert.equal(normalizeTarPath('./etc/shadow'), 'etc/shadow');
  assert.equal(normalizeTarPath('etc/'), 'etc');
  assert.equal(normalizeTarPath('./'), '');
  assert.equal(normalizeTarPath('a/../b'), 'b');
  assert.equal(normalizeTarPath('../x'), undefined);
  assert.equal(normalizeTarPath('a/../../x'), undefined);
  assert.equal(normalizeTarPath('/etc/passwd'), undefined);
});

test('debian_version to suite', () => {
  assert.equal(suiteOfDebianVersion('5.0.3'), 'lenny');
  assert.equal(suiteOfDebianVersion('lenny/sid'), 'lenny');
  assert.equal(suiteOfDebianVersion('12.5'), 'bookworm');
  assert.equal(suiteOfDebianVersion('weird'), undefined);
});

test('the stand-in rootfs is deterministic', async () => {
  const again = await variant({});
  assert.deepEqual(await readFile(again.rootfs), await readFile(good.rootfs));
  assert.deepEqual(await readFile(again.kernTgz), await readFile(good.kernTgz));
  assert.deepEqual(await readFile(again.uimage), await readFile(good.uimage));
  assert.equal(basename(again.rootfs), ROOTFS);
  await rm(again.dir, { recursive: true, force: true });
});
