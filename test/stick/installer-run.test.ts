import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildStickImage } from '../../src/stick/diskimage.js';
import { addBlockNode, makeBusyboxChroot, runInstallerInChroot } from './chroot.js';
import { KERNEL_VERSION, makeStickFolder, ROOTFS_NAME, type StickFixture } from './fixtures.js';
import { writeMd5sums } from '../../src/stick/md5sums.js';
import { INSTALL_STEP_COUNT, parseMarker } from '../../src/contracts/markers.js';
import { attachLoop, detachLoop, ensurePartitions, waitForNode } from './loop.js';

const CF_BYTES = 128 * 1024 * 1024;

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}

function debugfs(dev: string, request: string): Buffer {
  return execFileSync('debugfs', ['-R', request, dev], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 * 1024 * 1024 });
}

/** A CF card that already holds something: random bytes where the table and a filesystem would be. */
async function makeUsedCf(file: string): Promise<void> {
  await writeFile(file, '');
  const fh = await open(file, 'r+');
  await fh.truncate(CF_BYTES);
  await fh.write(randomBytes(3 * 1024 * 1024), 0, 3 * 1024 * 1024, 0);
  await fh.write(randomBytes(1024 * 1024), 0, 1024 * 1024, 64 * 1024 * 1024);
  await fh.close();
}

function steps(stdout: string): string[] {
  return stdout.split('\n').filter((l) => /^obsbuild-install: \[\d\/8\] /.test(l));
}

interface Rig {
  dir: string;
  chroot: string;
  cfFile: string;
  cfDev: string;
  stickDev: string;
  segled: string;
}

describe('msf_init.sh under busybox', { timeout: 120_000 }, () => {
  let base: string;
  let good: StickFixture;
  const loops: string[] = [];

  async function rig(name: string, fx: StickFixture, opts: { e2fsprogsMke2fs: boolean; flashcfg: boolean; sfdisk?: boolean }): Promise<Rig> {
    const dir = join(base, name);
    const img = join(dir, 'stick.img');
    await buildStickImage(fx.stickDir, img, { fs: 'ext3' });
    const cfFile = join(dir, 'cf.img');
    await makeUsedCf(cfFile);
    const stickDev = attachLoop(img, { readOnly: true });
    loops.push(stickDev);
    const cfDev = attachLoop(cfFile);
    loops.push(cfDev);
    const kernelScansPartitions = await ensurePartitions(stickDev);
    const chroot = join(dir, 'root');
    await makeBusyboxChroot(chroot, { ...opts, partx: !kernelScansPartitions });
    addBlockNode(chroot, cfDev);
    addBlockNode(chroot, stickDev);
    const segled = join(chroot, 'tmp/segled');
    await writeFile(segled, '');
    return { dir, chroot, cfFile, cfDev, stickDev, segled };
  }

  function run(r: Rig, cfDevice = r.cfDev) {
    return runInstallerInChroot(r.chroot, `${r.stickDev}p1`, {
      OBSBUILD_CF_DEVICE: cfDevice,
      OBSBUILD_SEGLED: '/tmp/segled',
      OBSBUILD_BLINK: '1',
      OBSBUILD_CONSOLE: 'none',
    });
  }

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'obsbuild-msfinit-'));
    good = await makeStickFolder(join(base, 'good'));
  });
  after(async () => {
    for (const l of loops.reverse()) detachLoop(l);
    await rm(base, { recursive: true, force: true });
  });

  it('installs onto the CF (sfdisk, e2fsprogs): ext3 labelled /, rootfs, overlay, modules, kernel, boot source, marker last', async () => {
    // util-linux sfdisk here; the busybox-only run below partitions with busybox fdisk
    const r = await rig('install', good, { e2fsprogsMke2fs: true, flashcfg: true, sfdisk: true });
    const stickBefore = await sha256File(join(r.dir, 'stick.img'));
    const res = await run(r);
    assert.equal(res.exitCode, 0, `${res.stdout}\n${res.stderr}`);
    const lines = steps(res.stdout);
    assert.deepEqual(lines.map((l) => l.slice(0, 23)), [1, 2, 3, 4, 5, 6, 7, 8].map((n) => `obsbuild-install: [${n}/8]`));
    assert.equal(lines[2], 'obsbuild-install: [3/8] extracting rootfs');
    assert.equal(res.stdout.trim().split('\n').pop(), 'obsbuild-install: done');
    assert.doesNotMatch(res.stdout, /FAILED/);
    assert.match(res.stdout, /^obsbuild-install: note: partitioned \S+ with sfdisk$/m);
    assert.match(res.stdout, /^obsbuild-install: note: \S+p1 is ext3 labelled \/, made with \/sbin\/mke2fs -j$/m);
    // What the script prints is what the console's contract parses: every step and the end, in order.
    const markers = res.stdout.split('\n').map(parseMarker).filter((m) => m !== null);
    assert.deepEqual(markers.map((m) => (m.kind === 'install-step' ? `${m.n}/${m.total}` : m.kind)), [
      ...Array.from({ length: INSTALL_STEP_COUNT }, (_, i) => `${i + 1}/${INSTALL_STEP_COUNT}`),
      'install-done',
    ]);

    const part = `${r.cfDev}p1`;
    await waitForNode(part);
    const probe = execFileSync('blkid', ['-p', '-o', 'export', part], { encoding: 'utf8' });
    assert.match(probe, /^LABEL=\/$/m);
    assert.match(probe, /^TYPE=ext3$/m, res.stdout);
    const table = JSON.parse(execFileSync('sfdisk', ['--json', r.cfDev], { encoding: 'utf8' })).partitiontable;
    assert.equal(table.partitions.length, 1);
    assert.equal(table.partitions[0].start, 2048);

    assert.equal(debugfs(part, 'cat /etc/debian_version').toString(), good.debianVersion);
    assert.equal(debugfs(part, 'cat /etc/keepalived/keepalived.conf').toString(), good.keepalivedConf);
    assert.equal(debugfs(part, 'cat /etc/hostname').toString(), 'obs600\n', 'the overlay wins over the rootfs');
    assert.ok(debugfs(part, `cat /lib/modules/${KERNEL_VERSION}/kernel/net/netfilter/ipvs/ip_vs.ko`).equals(good.ipvsModule));
    assert.ok(debugfs(part, 'cat /uImage.initrd-cfboot').equals(good.uImage));
    assert.match(debugfs(part, 'stat /home/user/notes.txt').toString(), /User:\s+1000\s+Group:\s+1000/, 'owners kept');
    assert.match(debugfs(part, 'stat /dev/console').toString(), /Type: character special/);
    assert.match(debugfs(part, 'cat /etc/obsbuild/install-complete').toString(), /^manifest=test-manifest-1$/m);

    assert.equal(await readFile(join(r.chroot, 'tmp/flashcfg.args'), 'utf8'), '-c cf\n');
    assert.equal(await readFile(r.segled, 'utf8'), '12312312' + '70', 'progress on orange/green, then all blinking');
    assert.equal(await sha256File(join(r.dir, 'stick.img')), stickBefore, 'the stick is only read');
  });

  it('with busybox alone (fdisk, busybox mke2fs): ext2 labelled /, says so, and tells to use the DIP switch without flashcfg', async () => {
    const r = await rig('busybox-only', good, { e2fsprogsMke2fs: false, flashcfg: false });
    const res = await run(r);
    assert.equal(res.exitCode, 0, `${res.stdout}\n${res.stderr}`);
    assert.match(res.stdout, /^obsbuild-install: note: this mke2fs cannot make ext3; .* is ext2 \(no journal\), made with mke2fs$/m);
    assert.match(res.stdout, /^obsbuild-install: note: flashcfg is not available here; set DIP switch SW3 ON/m);
    assert.match(res.stdout, /^obsbuild-install: note: partitioned \S+ with fdisk$/m);
    const table = JSON.parse(execFileSync('sfdisk', ['--json', r.cfDev], { encoding: 'utf8' })).partitiontable;
    assert.deepEqual(table.partitions.map((p: { start: number; type: string }) => [p.start, p.type]), [[2048, '83']]);
    const part = `${r.cfDev}p1`;
    await waitForNode(part);
    const probe = execFileSync('blkid', ['-p', '-o', 'export', part], { encoding: 'utf8' });
    assert.match(probe, /^LABEL=\/$/m);
    assert.match(probe, /^TYPE=ext2$/m);
    assert.match(debugfs(part, 'cat /etc/obsbuild/install-complete').toString(), /^filesystem=ext2$/m);
  });

  it('a corrupt file on the stick stops it in preflight with the CF untouched', async () => {
    const bad = await makeStickFolder(join(base, 'bad'));
    const kern = join(bad.msfDir, 'kern.tgz');
    const bytes = await readFile(kern);
    bytes[100] ^= 0xff;
    await writeFile(kern, bytes);
    const r = await rig('corrupt', bad, { e2fsprogsMke2fs: true, flashcfg: true });
    const cfBefore = await sha256File(r.cfFile);
    const res = await run(r);
    assert.equal(res.exitCode, 1);
    assert.match(res.stdout, /^obsbuild-install: FAILED \[1\/8\] preflight: stick files do not match MD5SUMS \(kern\.tgz: FAILED\): the stick copy is corrupt/m);
    assert.deepEqual(steps(res.stdout), ['obsbuild-install: [1/8] preflight']);
    assert.doesNotMatch(res.stdout, /obsbuild-install: done/);
    assert.equal(await readFile(r.segled, 'utf8'), '14', 'red LED on failure');
    assert.equal(await sha256File(r.cfFile), cfBefore, 'CF bytes unchanged');
  });

  it('a broken rootfs tarball (with matching MD5SUMS) fails in step 3 and leaves no completion marker', async () => {
    const broken = await makeStickFolder(join(base, 'broken'));
    const rootfs = join(broken.msfDir, ROOTFS_NAME);
    const bytes = await readFile(rootfs);
    await writeFile(rootfs, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await writeMd5sums(broken.msfDir);
    const r = await rig('broken', broken, { e2fsprogsMke2fs: true, flashcfg: true });
    const res = await run(r);
    assert.equal(res.exitCode, 1);
    assert.match(res.stdout, /^obsbuild-install: FAILED \[3\/8\] extracting rootfs: /m, res.stdout);
    assert.equal(steps(res.stdout).length, 3, 'stops at step 3');
    assert.doesNotMatch(res.stdout, /obsbuild-install: done/);
    assert.equal((await readFile(r.segled, 'utf8')).slice(-1), '4', 'red LED on failure');
    const part = `${r.cfDev}p1`;
    await waitForNode(part);
    assert.doesNotMatch(debugfs(part, 'stat /etc/obsbuild/install-complete').toString(), /Type: regular/);
  });

  it('refuses a CF card smaller than the build needs, leaving it untouched', async () => {
    const big = await makeStickFolder(join(base, 'big'), { minCfBytes: 2 * CF_BYTES });
    const r = await rig('small-cf', big, { e2fsprogsMke2fs: true, flashcfg: false });
    const cfBefore = await sha256File(r.cfFile);
    const res = await run(r);
    assert.equal(res.exitCode, 1);
    assert.match(res.stdout, new RegExp(`^obsbuild-install: FAILED \\[1/8\\] preflight: ${r.cfDev} is too small: 128 MiB, need at least 256 MiB$`, 'm'));
    assert.equal(await sha256File(r.cfFile), cfBefore);
  });

  it('refuses to install onto the stick itself or a missing device', async () => {
    const r = await rig('self', good, { e2fsprogsMke2fs: true, flashcfg: false });
    const res = await run(r, r.stickDev);
    assert.equal(res.exitCode, 1);
    assert.match(res.stdout, new RegExp(`^obsbuild-install: FAILED \\[1/8\\] preflight: ${r.stickDev} holds the stick itself`, 'm'));
    const missing = await run(r, '/dev/nonexistent');
    assert.equal(missing.exitCode, 1);
    assert.match(missing.stdout, /FAILED \[1\/8\] preflight: \/dev\/nonexistent is not a block device/);
  });
});
