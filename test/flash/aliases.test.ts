import { test } from 'node:test';
import assert from 'node:assert/strict';
import { link, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { runCli } from '../helpers/cli.js';
import { attachLoop, detachLoop, flushDevice, makeJunkFile, makeSparseImage, MiB, removeDir, sha256File, tempDir, waitForPath } from './helpers.js';

/**
 * The target check follows what a device name hides: another loop device on the same backing
 * file (reached through a hard link, so only the inode tells), a loop device on the target
 * itself, and the partitions and dm volumes of those. Every device here is a loop device on a
 * file in a temp dir, detached in `finally`.
 */

const MKFS = ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0'];

interface Fixture {
  dir: string;
  image: string;
  backing: string;
}

async function fixture(): Promise<Fixture> {
  const dir = await tempDir();
  const { image } = await makeSparseImage(dir, 8 * MiB, [{ start: MiB, length: 256 * 1024 }]);
  const backing = path.join(dir, 'target.img');
  await makeJunkFile(backing, 16 * MiB);
  return { dir, image, backing };
}

async function settle(...devs: string[]): Promise<void> {
  await execa('sync');
  for (const d of devs) await flushDevice(d);
}

/** Runs flash on `dev`, expects a refusal matching `re`, and the backing file untouched. */
async function assertRefused(f: Fixture, dev: string, re: RegExp, settleDevs: string[]): Promise<void> {
  await settle(...settleDevs);
  const before = await sha256File(f.backing);
  const r = await runCli(['flash', dev, '--image', f.image, '--yes', '--force-unsafe-target']);
  assert.equal(r.exitCode, 1, `expected exit 1, got ${r.exitCode}: ${r.stderr}${r.stdout}`);
  assert.match(String(r.stderr), re);
  assert.match(String(r.stderr), /nothing was written/);
  if (process.env.SHOW) console.log(String(r.stderr));
  await settle(...settleDevs);
  assert.equal(await sha256File(f.backing), before, 'the target changed although flash refused');
}

test('refused: a filesystem mounted from a partition of another loop device on the same backing file (a hard link)', async () => {
  const f = await fixture();
  const mnt = path.join(f.dir, 'mnt');
  let target: string | undefined;
  let other: string | undefined;
  let mounted = false;
  try {
    await execa('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', f.backing], { input: 'label: dos\nstart=2048, type=83\n' });
    const alias = path.join(f.dir, 'same-file-other-name.img');
    await link(f.backing, alias);
    target = await attachLoop(f.backing);
    other = await attachLoop(alias, { partscan: true });
    const part = `${other}p1`;
    if (!(await waitForPath(part, 1000))) await execa('partx', ['-a', other]);
    assert.ok(await waitForPath(part), `${part} did not appear`);
    await execa('mkfs.ext4', [...MKFS, part]);
    await mkdir(mnt);
    await execa('mount', [part, mnt]);
    mounted = true;
    const o = path.basename(other);
    const t = path.basename(target);
    await assertRefused(
      f,
      target,
      new RegExp(`holds mounted filesystems \\(${part} on .*mnt, where ${o} is a loop device on the same backing file as ${t} \\(.*target\\.img\\)\\)`),
      [target, other],
    );
  } finally {
    if (mounted) await execa('umount', [mnt], { reject: false });
    if (other) await execa('partx', ['-d', other], { reject: false });
    await detachLoop(other);
    await detachLoop(target);
    await removeDir(f.dir);
  }
});

test('refused: a filesystem mounted from a loop device whose backing file is the target itself', async () => {
  const f = await fixture();
  const mnt = path.join(f.dir, 'mnt');
  let target: string | undefined;
  let onTarget: string | undefined;
  let mounted = false;
  try {
    target = await attachLoop(f.backing);
    onTarget = await attachLoop(target);
    await execa('mkfs.ext4', [...MKFS, onTarget]);
    await mkdir(mnt);
    await execa('mount', [onTarget, mnt]);
    mounted = true;
    const o = path.basename(onTarget);
    await assertRefused(f, target, new RegExp(`holds mounted filesystems \\(${onTarget} on .*mnt, where ${o} is a loop device on ${path.basename(target)}\\)`), [onTarget, target]);
  } finally {
    if (mounted) await execa('umount', [mnt], { reject: false });
    await detachLoop(onTarget);
    await detachLoop(target);
    await removeDir(f.dir);
  }
});

test('refused: another loop device on the same file held open exclusively (a mount this process cannot see)', async () => {
  const f = await fixture();
  let target: string | undefined;
  let other: string | undefined;
  let holder: ReturnType<typeof execa> | undefined;
  try {
    target = await attachLoop(f.backing);
    other = await attachLoop(f.backing);
    // what a mount in another mount namespace does to the device: claim it exclusively
    holder = execa(process.execPath, [
      '-e',
      `require('fs').openSync(${JSON.stringify(other)}, require('fs').constants.O_RDONLY | require('fs').constants.O_EXCL); console.log('held'); setInterval(() => {}, 1000);`,
    ]);
    await new Promise<void>((resolve, reject) => {
      holder!.stdout!.on('data', (d: Buffer) => (String(d).includes('held') ? resolve() : undefined));
      holder!.on('exit', () => reject(new Error('the holder exited')));
    });
    const o = path.basename(other);
    await assertRefused(f, target, new RegExp(`${other} is busy \\(mounted, perhaps in another mount namespace.*where ${o} is a loop device on the same backing file as ${path.basename(target)}`), [target]);
    holder.kill();
    await holder.catch(() => undefined);
    holder = undefined;
    // released, the same pair flashes: a loop device on the same file is not by itself a refusal
    const r = await runCli(['flash', target, '--image', f.image, '--yes', '--force-unsafe-target']);
    assert.equal(r.exitCode, 0, String(r.stderr));
  } finally {
    holder?.kill();
    await holder?.catch(() => undefined);
    await detachLoop(other);
    await detachLoop(target);
    await removeDir(f.dir);
  }
});

test('refused: a device-mapper volume on another loop device of the same backing file', async (t) => {
  const f = await fixture();
  let target: string | undefined;
  let other: string | undefined;
  const dmName = `obsbuild-test-${process.pid}`;
  let dmCreated = false;
  try {
    target = await attachLoop(f.backing);
    other = await attachLoop(f.backing);
    const sectors = (16 * MiB) / 512;
    const dm = await execa('dmsetup', ['create', dmName, '--table', `0 ${sectors} linear ${other} 0`], { reject: false });
    if (dm.exitCode !== 0) {
      t.skip(`device-mapper is not usable here (dmsetup create: ${String(dm.stderr).split('\n')[0] || dm.exitCode}); the dm case is covered with a fake sysfs in device.test.ts`);
      return;
    }
    dmCreated = true;
    await assertRefused(f, target, /is in use by \/dev\/dm-\d+, where dm-\d+ is stacked on loop\d+, and loop\d+ is a loop device on the same backing file/, [target]);
  } finally {
    if (dmCreated) await execa('dmsetup', ['remove', dmName], { reject: false });
    await detachLoop(other);
    await detachLoop(target);
    await removeDir(f.dir);
  }
});
