import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { estimateMinCfBytes, renderInstaller } from '../../src/box/installer.js';
import { verifyMd5sums, writeMd5sums } from '../../src/stick/md5sums.js';
import { encodeMbr, lbaToChs, parseMbr } from '../../src/stick/mbr.js';
import { UserError } from '../../src/util/errors.js';

const ROOTFS = 'lenny-powerpc-obs600-20100119-00.tar.gz';

describe('msf_init.sh generation', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'obsbuild-installer-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('passes shellcheck --shell=sh and busybox sh -n, for each rootfs compression and a custom CF device', async () => {
    const variants = [
      renderInstaller({ rootfsName: ROOTFS, manifestId: 'm1' }),
      renderInstaller({ rootfsName: 'rootfs.tar.bz2', cfDevice: '/dev/sdb', manifestId: 'sha256:abc', minCfBytes: 3 * 1024 ** 3 }),
      renderInstaller({ rootfsName: 'rootfs.tar.xz', cfDevice: '/dev/mmcblk0', files: { overlay: 'o.tgz' } }),
    ];
    for (const [i, script] of variants.entries()) {
      const file = join(dir, `msf_init-${i}.sh`);
      await writeFile(file, script);
      const sc = spawnSync('shellcheck', ['--shell=sh', file], { encoding: 'utf8' });
      assert.equal(sc.status, 0, `shellcheck:\n${sc.stdout}${sc.stderr}`);
      const parse = spawnSync('/bin/busybox', ['sh', '-n', file], { encoding: 'utf8' });
      assert.equal(parse.status, 0, parse.stderr);
      assert.doesNotMatch(script, /@@[A-Z_]+@@/, 'every placeholder filled');
      assert.ok(script.startsWith('#!/bin/sh\n'));
    }
  });

  it('bakes in the site file defaults, overridable by OBSBUILD_CF_DEVICE', () => {
    const def = renderInstaller({ rootfsName: ROOTFS });
    assert.match(def, /^CF_DEVICE=\$\{OBSBUILD_CF_DEVICE:-'\/dev\/sda'\}$/m);
    const custom = renderInstaller({ rootfsName: 'r.tar.bz2', cfDevice: '/dev/sdc', manifestId: 'abc-1', minCfBytes: 1000 * 1024 * 1024 + 1 });
    assert.match(custom, /^CF_DEVICE=\$\{OBSBUILD_CF_DEVICE:-'\/dev\/sdc'\}$/m);
    assert.match(custom, /^ROOTFS='r\.tar\.bz2'$/m);
    assert.match(custom, /^ROOTFS_DECOMPRESS=bzip2$/m);
    assert.match(custom, /^MANIFEST_ID=abc-1$/m);
    assert.match(custom, /^MIN_CF_MIB=1001$/m, 'rounded up to whole MiB');
  });

  it('refuses values that could break out of the script, with a UserError', () => {
    assert.throws(() => renderInstaller({ rootfsName: ROOTFS, cfDevice: '/dev/sda; rm -rf /' }), UserError);
    assert.throws(() => renderInstaller({ rootfsName: ROOTFS, cfDevice: 'sda' }), UserError);
    assert.throws(() => renderInstaller({ rootfsName: "it's.tar.gz" }), UserError);
    assert.throws(() => renderInstaller({ rootfsName: 'rootfs.zip' }), /expected \.tar\.gz/);
    assert.throws(() => renderInstaller({ rootfsName: ROOTFS, manifestId: '$(reboot)' }), UserError);
    assert.throws(() => renderInstaller({ rootfsName: ROOTFS, files: { kernTgz: '../kern.tgz' } }), UserError);
  });

  it('estimates a CF size floor from the payload', () => {
    const mib = 1024 * 1024;
    assert.equal(estimateMinCfBytes({ rootfs: 100 * mib, overlay: 10 * mib, kernTgz: 5 * mib, uImage: 3 * mib }), (460 + 3 + 64) * mib);
  });
});

describe('MD5SUMS', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'obsbuild-md5-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists every file but itself, and md5sum -c (coreutils and busybox) accepts it', async () => {
    const msf = join(dir, 'msf');
    await mkdir(join(msf, 'sub'), { recursive: true });
    await writeFile(join(msf, 'kern.tgz'), 'kernel modules');
    await writeFile(join(msf, 'msf_init.sh'), '#!/bin/sh\n');
    await writeFile(join(msf, 'sub/extra.bin'), Buffer.from([0, 1, 2]));
    await writeFile(join(msf, 'MD5SUMS'), 'stale\n');
    await writeMd5sums(msf);
    const text = await readFile(join(msf, 'MD5SUMS'), 'utf8');
    assert.deepEqual(text.split('\n').filter(Boolean).map((l) => l.slice(34)), ['kern.tgz', 'msf_init.sh', 'sub/extra.bin']);
    assert.match(execFileSync('md5sum', ['-c', 'MD5SUMS'], { cwd: msf, encoding: 'utf8' }), /sub\/extra\.bin: OK/);
    execFileSync('/bin/busybox', ['md5sum', '-c', '-s', 'MD5SUMS'], { cwd: msf });
    assert.deepEqual(await verifyMd5sums(msf), []);

    await writeFile(join(msf, 'kern.tgz'), 'kernel modulez');
    assert.deepEqual(await verifyMd5sums(msf), ['kern.tgz']);
    assert.notEqual(spawnSync('/bin/busybox', ['md5sum', '-c', '-s', 'MD5SUMS'], { cwd: msf }).status, 0);
  });
});

describe('MBR', () => {
  it('round-trips and matches what sfdisk writes for the same partition', async () => {
    const mbr = { diskSignature: 0x89872ed8, partitions: [{ index: 1, bootable: false, type: 0x83, startLba: 2048, sectors: 36864 }] };
    const sector = encodeMbr(mbr);
    assert.deepEqual(parseMbr(sector), mbr);

    const dir = await mkdtemp(join(tmpdir(), 'obsbuild-mbr-'));
    try {
      const img = join(dir, 'disk.img');
      await writeFile(img, Buffer.alloc(40 * 1024 * 1024));
      execFileSync('sfdisk', ['-q', '--no-reread', '-X', 'dos', img], { input: 'label-id: 0x89872ed8\n2048,36864,83\n' });
      const theirs = (await readFile(img)).subarray(0, 512);
      assert.ok(theirs.subarray(440, 512).equals(sector.subarray(440, 512)), 'signature, entries and boot signature agree with sfdisk');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('uses the beyond-CHS marker past cylinder 1023 and refuses more than 2 TiB', () => {
    assert.deepEqual(lbaToChs(2048), [32, 33, 0]);
    assert.deepEqual(lbaToChs(1024 * 255 * 63), [0xfe, 0xff, 0xff]);
    assert.throws(() => encodeMbr({ diskSignature: 1, partitions: [{ index: 1, bootable: false, type: 0x83, startLba: 2048, sectors: 0xffffffff }] }));
    assert.equal(parseMbr(Buffer.alloc(512)), undefined);
  });
});
